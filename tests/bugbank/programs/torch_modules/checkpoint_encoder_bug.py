"""Activation checkpointing wraps the input encoder with the reentrant implementation while its input is raw data that does not require grad: the checkpoint output has no grad_fn path to the encoder, so the encoder's weights get no gradient and stay at their random initialisation.

Source: https://github.com/ai2cm/ace/pull/1493
Label: buggy
Family: loop
Frameworks: torch
"""
import warnings

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class Forecaster(nn.Module):
    def __init__(self, channels=3, hidden=8, checkpointing=True):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv1d(channels, hidden, 3, padding=1), nn.GELU(),
                                     nn.Conv1d(hidden, hidden, 1))
        self.processor = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.decoder = nn.Conv1d(hidden, channels, 1)
        self.checkpointing = checkpointing

    def forward(self, x):
        if self.checkpointing:
            h = checkpoint(self.encoder, x, use_reentrant=True)  # BUG
        else:
            h = self.encoder(x)
        return self.decoder(torch.relu(self.processor(h)))


warnings.simplefilter("ignore")
torch.manual_seed(0)
net = Forecaster()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
state, target = torch.randn(2, 3, 10), torch.randn(2, 3, 10)
w0 = net.encoder[0].weight.detach().clone()
opt.zero_grad()
loss = (net(state) - target).pow(2).mean()
loss.backward()
opt.step()
assert net.encoder[0].weight.grad is None
assert net.processor.weight.grad.abs().sum() > 0
assert torch.equal(w0, net.encoder[0].weight)
