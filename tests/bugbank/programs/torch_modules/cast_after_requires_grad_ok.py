"""From-scratch regression: the weight is created on the device with requires_grad, the bias is cast first and marked trainable after.

Source: https://github.com/hhsecond/HandsOnDeepLearningWithPytorch/issues/2
        https://github.com/pytorch/pytorch/issues/12627
Label: clean
Family: params
Frameworks: torch
"""
import torch

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
dtype = torch.float64

x = torch.randn(64, 3, dtype=dtype, device=device)
true_w = torch.tensor([[1.5], [-2.0], [0.5]], dtype=dtype, device=device)
y = x @ true_w + 0.3

w = torch.randn(3, 1, device=device, dtype=dtype, requires_grad=True)
b = torch.zeros(1).to(device, dtype).requires_grad_()

optimizer = torch.optim.SGD([w, b], lr=0.1)
w0 = w.detach().clone()
for _ in range(3):
    optimizer.zero_grad()
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    optimizer.step()

assert w.is_leaf and b.is_leaf
assert w.grad is not None and w.grad.abs().sum() > 0
assert b.grad is not None
assert not torch.equal(w0, w.detach())
