"""A fine-tuning script computes backbone features under torch.inference_mode() and trains backbone and head.

Source: https://github.com/facebookresearch/dinov2/issues/472
Label: buggy
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

raised = None
try:
    with torch.inference_mode():  # BUG
        feats = backbone(x)  # BUG
    logits = head(feats)
    loss = nn.functional.cross_entropy(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
except RuntimeError as err:
    raised = err

assert raised is not None and "Inference tensors cannot be saved for backward" in str(raised)
assert backbone[0].weight.grad is None
