"""Activation checkpointing wraps the input encoder whose input is raw data (no grad); with use_reentrant=False the encoder's weights still receive gradients.

Source: https://github.com/ai2cm/ace/pull/1493
Label: clean
Family: loop
Frameworks: torch
"""
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
            h = checkpoint(self.encoder, x, use_reentrant=False)
        else:
            h = self.encoder(x)
        return self.decoder(torch.relu(self.processor(h)))


torch.manual_seed(0)
net = Forecaster()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
state, target = torch.randn(2, 3, 10), torch.randn(2, 3, 10)
opt.zero_grad()
loss = (net(state) - target).pow(2).mean()
loss.backward()
g = net.encoder[0].weight.grad
assert g is not None and g.abs().sum() > 0
w0 = net.encoder[0].weight.detach().clone()
opt.step()
assert not torch.equal(w0, net.encoder[0].weight)
