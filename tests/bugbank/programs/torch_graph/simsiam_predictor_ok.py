"""SimSiam: the symmetric loss is a lambda that detaches the projection z (stop-gradient); encoder and predictor train.

Source: https://github.com/PatrickHua/SimSiam/issues/39
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 6))
predictor = nn.Sequential(nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 6))
params = list(encoder.parameters()) + list(predictor.parameters())
optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)

neg_cos = lambda p, z: -F.cosine_similarity(p, z.detach(), dim=-1).mean()


def augment(x):
    return x * (1 + 0.1 * torch.randn_like(x)) + 0.05 * torch.randn_like(x)


data = torch.randn(16, 8)
enc_start = encoder[0].weight.detach().clone()
pred_start = predictor[0].weight.detach().clone()
for step in range(2):
    x1, x2 = augment(data), augment(data)
    z1, z2 = encoder(x1), encoder(x2)
    p1, p2 = predictor(z1), predictor(z2)
    loss = 0.5 * neg_cos(p1, z2) + 0.5 * neg_cos(p2, z1)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    collapse = F.normalize(z1.detach(), dim=1).std(dim=0).mean().item()

assert encoder[0].weight.grad is not None and encoder[0].weight.grad.abs().sum() > 0
assert predictor[0].weight.grad.abs().sum() > 0
assert not torch.equal(enc_start, encoder[0].weight)
assert not torch.equal(pred_start, predictor[0].weight)
