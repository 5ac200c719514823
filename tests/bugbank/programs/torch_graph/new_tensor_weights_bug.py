"""A focal-style loss builds its per-sample weights with logits.new_tensor(probs), re-wrapping a live tensor.

Source: https://github.com/laekov/fastmoe/issues/49
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class WeightedCE(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, labels):
        p_true = F.softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1)
        weights = ((1 - p_true) ** self.gamma).detach()
        nll = logits.new_tensor(-torch.log(p_true))  # BUG
        return (weights * nll).mean()


torch.manual_seed(0)
model = nn.Linear(5, 3)
criterion = WeightedCE()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(7, 5), torch.randint(0, 3, (7,))
loss = criterion(model(x), y)
opt.zero_grad()
try:
    loss.backward()
    raised = None
except RuntimeError as err:
    raised = err

assert raised is not None and "does not require grad" in str(raised)
assert model.weight.grad is None
