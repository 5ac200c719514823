"""A training loop accumulates gradients over `cfg["accum"]` micro-batches, but the per-batch helper clears the gradients before every backward: each step applies only the last micro-batch's gradient.

Source: https://github.com/karpathy/nanoGPT/issues/605
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn

cfg = {"accum": 4, "lr": 0.1}


def forward_backward(model, optimizer, batch):
    x, y = batch
    optimizer.zero_grad()  # BUG
    loss = nn.functional.mse_loss(model(x), y) / cfg["accum"]
    loss.backward()
    return loss.detach()


def run(model, optimizer, batches):
    total = 0.0
    for i, batch in enumerate(batches):
        total += forward_backward(model, optimizer, batch).item()
        if (i + 1) % cfg["accum"] == 0:
            optimizer.step()
    return total


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights stay put for the check
    seen = []
    step = optimizer.step
    optimizer.step = lambda: (seen.append(model.weight.grad.clone()), step())[1]
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(cfg["accum"])]
    run(model, optimizer, batches)

    def grad_of(x, y):
        return torch.autograd.grad(nn.functional.mse_loss(model(x), y) / cfg["accum"], model.weight)[0]

    # the step received the last micro-batch's gradient alone, not the window's sum
    assert torch.allclose(seen[0], grad_of(*batches[-1]))
    assert not torch.allclose(seen[0], sum(grad_of(a, b) for a, b in batches))
