"""A random-feature layer allocates its weight with torch.empty and nn.init.xavier_uniform_ on a plain tensor: it is initialised like a weight but never trained.

Source: https://coderoad.ru/60908827/Почему-PyTorch-nn-Module-cuda-не-перемещает-тензор-модуля-а-только-параметры-и
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn


class FeatureMap(nn.Module):
    def __init__(self, in_dim, n_feat):
        super().__init__()
        self.W = torch.empty(in_dim, n_feat)  # BUG
        nn.init.xavier_uniform_(self.W)  # BUG
        self.b = nn.Parameter(torch.zeros(n_feat))

    def forward(self, x):
        return torch.cos(x @ self.W + self.b)


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = FeatureMap(3, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        return self.out(self.features(x))


torch.manual_seed(1)
net = Regressor()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
x = torch.randn(32, 3)
y = x.sum(dim=1, keepdim=True)
W0 = net.features.W.clone()
for step in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(net(x), y)
    loss.backward()
    optimizer.step()

names = [n for n, _ in net.named_parameters()]
assert "features.W" not in names, names
assert net.features.W.grad is None
assert torch.equal(W0, net.features.W)
