"""A focal-style loss makes its class weights with logits.new_tensor(list) and keeps the live log-probabilities.

Source: https://github.com/laekov/fastmoe/issues/49
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class WeightedCE(nn.Module):
    def __init__(self, class_weights, gamma=2.0):
        super().__init__()
        self.class_weights = class_weights
        self.gamma = gamma

    def forward(self, logits, labels):
        alpha = logits.new_tensor(self.class_weights)[labels]
        log_p = F.log_softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1)
        focus = (1 - log_p.exp()).detach() ** self.gamma
        return -(alpha * focus * log_p).mean()


torch.manual_seed(0)
model = nn.Linear(5, 3)
criterion = WeightedCE([1.0, 2.0, 0.5])
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(7, 5), torch.randint(0, 3, (7,))
start = model.weight.clone()
loss = criterion(model(x), y)
opt.zero_grad()
loss.backward()
opt.step()

assert model.weight.grad is not None and model.weight.grad.abs().sum() > 0
assert not torch.equal(start, model.weight)
