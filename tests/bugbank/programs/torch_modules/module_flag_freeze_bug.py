"""Source-free adaptation meant to keep the classifier head fixed: `head.requires_grad = False` on the module freezes nothing, the head drifts.

Source: https://github.com/CSCYQJ/MICCAI23-ProtoContra-SFDA/issues/18
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.outc = nn.Linear(16, 3)

    def forward(self, x):
        return self.outc(self.encoder(x))


class Adapter:
    def __init__(self, model, lr=0.1):
        self.model = model
        self.model.outc.requires_grad = False  # BUG
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)

    def step(self, x):
        probs = F.softmax(self.model(x), dim=1)
        entropy = -(probs * probs.clamp_min(1e-8).log()).sum(dim=1).mean()
        self.opt.zero_grad()
        entropy.backward()
        self.opt.step()
        return entropy.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    net = Segmenter()
    head_before = net.outc.weight.detach().clone()
    adapter = Adapter(net)
    x = torch.randn(12, 8)
    for _ in range(3):
        adapter.step(x)
    # the head was supposed to stay fixed, but it received gradients and moved
    assert net.outc.weight.requires_grad
    assert net.outc.weight.grad is not None
    assert not torch.equal(head_before, net.outc.weight.detach())
