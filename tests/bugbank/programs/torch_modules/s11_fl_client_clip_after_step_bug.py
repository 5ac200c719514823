"""A federated-learning client's local update reads its clipping settings from a config dict and clips the gradient norm after optimizer.step(): the step already used the unclipped gradient, so the configured clipping never limits any update.

Source: https://github.com/APPFL/APPFL/pull/198
        https://github.com/taesunwhang/UMS-ResSel/issues/3
Label: buggy
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

    def local_update(self, batches):
        self.model.train()
        for x, y in batches:
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            if self.cfg.get("clip_grad", False):
                torch.nn.utils.clip_grad_norm_(  # BUG
                    self.model.parameters(), self.cfg["clip_value"], norm_type=self.cfg["clip_norm"]
                )
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    cfg = {"lr": 0.1, "clip_grad": True, "clip_value": 0.01, "clip_norm": 2}
    client = ClientTrainer(model, cfg)
    x, y = torch.randn(8, 4), 50 * torch.randn(8, 1)
    start = model.weight.detach().clone()
    # the unclipped gradient the step will see
    raw = torch.autograd.grad(nn.functional.mse_loss(model(x), y), model.weight)[0]
    client.local_update([(x, y)])
    moved = (model.weight.detach() - start).norm()
    assert torch.allclose(moved, 0.1 * raw.norm(), rtol=1e-4)  # the full, unclipped step
    assert moved > 0.1 * cfg["clip_value"] * 10
