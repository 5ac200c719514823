"""A federated-learning client's local update clips the gradient norm from its config dict between backward() and optimizer.step(), and records the loss with .item() for its history: every step is limited as configured.

Source: https://github.com/APPFL/APPFL/pull/198
        https://github.com/taesunwhang/UMS-ResSel/issues/3
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


class ClientTrainer:
    def __init__(self, model, cfg):
        self.model = model
        self.cfg = cfg
        self.loss_fn = nn.MSELoss()
        self.optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
        self.history = []

    def local_update(self, batches):
        self.model.train()
        for x, y in batches:
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            if self.cfg.get("clip_grad", False):
                torch.nn.utils.clip_grad_norm_(
                    self.model.parameters(), self.cfg["clip_value"], norm_type=self.cfg["clip_norm"]
                )
            self.optimizer.step()
            self.history.append({"loss": loss.item()})
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    cfg = {"lr": 0.1, "clip_grad": True, "clip_value": 0.01, "clip_norm": 2}
    client = ClientTrainer(model, cfg)
    x, y = torch.randn(8, 4), 50 * torch.randn(8, 1)
    start = [p.detach().clone() for p in model.parameters()]
    client.local_update([(x, y)])
    moved = torch.cat([(p.detach() - s).flatten() for p, s in zip(model.parameters(), start)]).norm()
    assert moved > 0
    assert moved <= 0.1 * cfg["clip_value"] * 1.001  # the step was clipped
