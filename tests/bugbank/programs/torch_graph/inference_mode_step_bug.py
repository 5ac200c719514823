"""A small trainer class decorates its forward helper with @torch.inference_mode(): backward then raises at once.

Source: https://github.com/pytorch/pytorch/pull/161164
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 6)
        self.out = nn.Linear(6, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


class Trainer:
    def __init__(self, model, lr=1e-2):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    @torch.inference_mode()  # BUG
    def predict(self, batch):
        return self.model(batch)

    def fit_batch(self, batch, target):
        self.optimizer.zero_grad()
        prediction = self.predict(batch)
        loss = F.mse_loss(prediction, target)
        loss.backward()
        self.optimizer.step()
        return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    trainer = Trainer(Regressor())
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    try:
        trainer.fit_batch(x, y)
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("backward through an inference-mode prediction should fail")
    assert trainer.model.hidden.weight.grad is None
