"""A fine-tuning script trains backbone and head, then scores a validation batch under torch.inference_mode().

Source: https://github.com/facebookresearch/dinov2/issues/472
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(10, 16), nn.GELU())
head = nn.Linear(16, 4)
optimizer = torch.optim.AdamW(list(backbone.parameters()) + list(head.parameters()), lr=1e-3)
x, y = torch.randn(6, 10), torch.randint(0, 4, (6,))
x_val, y_val = torch.randn(6, 10), torch.randint(0, 4, (6,))
start = backbone[0].weight.clone()

for epoch in range(2):
    backbone.train(); head.train()
    logits = head(backbone(x))
    loss = nn.functional.cross_entropy(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    backbone.eval(); head.eval()
    with torch.inference_mode():
        val_acc = (head(backbone(x_val)).argmax(1) == y_val).float().mean().item()

assert backbone[0].weight.grad is not None and backbone[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, backbone[0].weight)
