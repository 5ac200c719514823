"""A small trainer class uses @torch.inference_mode() only for its evaluation helper; the training step runs with autograd.

Source: https://github.com/pytorch/pytorch/pull/161164
Label: clean
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

    @torch.inference_mode()
    def evaluate(self, batch, target):
        return F.mse_loss(self.model(batch), target).item()

    def fit_batch(self, batch, target):
        self.optimizer.zero_grad()
        prediction = self.model(batch)
        loss = F.mse_loss(prediction, target)
        loss.backward()
        self.optimizer.step()
        return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    trainer = Trainer(Regressor())
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    before = trainer.model.hidden.weight.detach().clone()
    trainer.fit_batch(x, y)
    assert trainer.model.hidden.weight.grad.abs().sum() > 0
    assert not torch.equal(trainer.model.hidden.weight, before)
    assert trainer.evaluate(x, y) >= 0.0
