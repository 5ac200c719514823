"""Gradient clipping is called after optimizer.step(): the step has already used the raw gradient, so the clip changes nothing and every update is as large as the unclipped gradient.

Source: https://github.com/awslabs/graphstorm/issues/1366
        https://github.com/VGraphRNN/VGRNN/issues/4
        https://github.com/jongwook/onsets-and-frames/issues/24
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn

MAX_NORM = 0.01
LR = 0.1


class Trainer:
    def __init__(self, model):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    def train_step(self, x, y):
        self.optimizer.zero_grad()
        loss = nn.functional.mse_loss(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        nn.utils.clip_grad_norm_(self.model.parameters(), MAX_NORM)  # BUG
        return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    trainer = Trainer(model)
    x, y = torch.randn(16, 4), 10 * torch.randn(16, 1)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    trainer.train_step(x, y)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    # plain SGD: a clipped step could move the weights by at most LR * MAX_NORM
    assert (after - before).norm() > 10 * LR * MAX_NORM
