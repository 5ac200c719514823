"""A MoCo-style contrastive model: the key encoder is a frozen deep copy moved by a momentum update under no_grad, keys are enqueued into a buffer queue; the query encoder trains through the InfoNCE loss.

Source: https://github.com/lightly-ai/lightly/pull/501
        https://github.com/facebookresearch/moco/issues/125
Label: clean
Family: params
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


def deactivate_requires_grad(params):
    for p in params:
        p.requires_grad = False


class MoCo(nn.Module):
    def __init__(self, dim=8, feat=6, queue_size=32, m=0.99, t=0.2):
        super().__init__()
        self.encoder_q = nn.Sequential(nn.Linear(dim, 16), nn.ReLU(), nn.Linear(16, feat))
        self.encoder_k = copy.deepcopy(self.encoder_q)
        deactivate_requires_grad(self.encoder_k.parameters())
        self.m, self.t = m, t
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, feat), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def momentum_update(self):
        for q, k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            k.data.mul_(self.m).add_(q.data, alpha=1 - self.m)

    @torch.no_grad()
    def enqueue(self, keys):
        n = keys.shape[0]
        i = int(self.ptr)
        self.queue[i:i + n] = keys
        self.ptr.fill_((i + n) % self.queue.shape[0])

    def forward(self, x_q, x_k):
        q = F.normalize(self.encoder_q(x_q), dim=1)
        with torch.no_grad():
            self.momentum_update()
            k = F.normalize(self.encoder_k(x_k), dim=1)
        pos = (q * k).sum(1, keepdim=True)
        neg = q @ self.queue.clone().detach().T
        logits = torch.cat([pos, neg], dim=1) / self.t
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        self.enqueue(k)
        return F.cross_entropy(logits, labels)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = MoCo()
    opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    before = [p.detach().clone() for p in model.encoder_q.parameters()]
    for _ in range(2):
        x = torch.randn(4, 8)
        loss = model(x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder_q.parameters())
    assert all(not torch.equal(b, p) for b, p in zip(before, model.encoder_q.parameters()))
    assert all(p.grad is None for p in model.encoder_k.parameters())
