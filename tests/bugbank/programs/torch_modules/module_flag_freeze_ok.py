"""Source-free adaptation with the head frozen by `requires_grad_(False)` on the module: only the encoder adapts.

Source: https://github.com/CSCYQJ/MICCAI23-ProtoContra-SFDA/issues/18
Label: clean
Family: params
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.outc = nn.Linear(16, 3)

    def forward(self, x):
        return self.outc(self.encoder(x))


def adapt(model, x, steps=3, lr=0.1):
    model.outc.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        probs = F.softmax(model(x), dim=1)
        entropy = -(probs * probs.clamp_min(1e-8).log()).sum(dim=1).mean()
        opt.zero_grad()
        entropy.backward()
        opt.step()


torch.manual_seed(0)
net = Segmenter()
head_before = net.outc.weight.detach().clone()
enc_before = net.encoder[0].weight.detach().clone()
adapt(net, torch.randn(12, 8))
assert torch.equal(head_before, net.outc.weight.detach())
assert net.encoder[0].weight.grad.abs().sum() > 0
assert not torch.equal(enc_before, net.encoder[0].weight.detach())
