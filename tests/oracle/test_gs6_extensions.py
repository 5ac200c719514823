"""Oracle proofs for the GS6xx forms beyond the rules' own examples.

FACTS pt34: `zero_grad(); step(); loss.backward()` in a loop never moves the weights (each step
reads gradients just cleared), and a module's `zero_grad()` clears the gradients of its
submodules, so one between backward and the step of an optimizer over a submodule wipes them.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.oracle


def test_step_between_zero_grad_and_backward_never_moves():
    """pt34: `zero_grad(); step(); backward()` in a loop never moves the weights."""
    torch = pytest.importorskip("torch", reason="the GS601 oracle proof needs torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    for make in (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.Adam(p, lr=0.1)):
        opt = make(model.parameters())
        before = model.weight.detach().clone()
        x, y = torch.randn(8, 3), torch.randn(8, 1)
        for _ in range(4):
            opt.zero_grad()
            opt.step()
            ((model(x) - y) ** 2).mean().backward()
        assert torch.equal(before, model.weight)
        assert model.weight.grad is not None and model.weight.grad.abs().sum() > 0  # computed, never applied


def test_module_zero_grad_clears_submodule_gradients():
    """pt34: a module's `zero_grad()` clears its submodules' gradients before the step."""
    torch = pytest.importorskip("torch", reason="the GS601 oracle proof needs torch")
    torch.manual_seed(0)
    pair = torch.nn.ModuleDict({"gen": torch.nn.Linear(3, 2), "critic": torch.nn.Linear(2, 1)})
    opt = torch.optim.SGD(pair["gen"].parameters(), lr=0.1)
    before = pair["gen"].weight.detach().clone()
    (-pair["critic"](pair["gen"](torch.randn(4, 3))).mean()).backward()
    pair.zero_grad()
    opt.step()
    assert pair["gen"].weight.grad is None
    assert torch.equal(before, pair["gen"].weight)
    (-pair["critic"](pair["gen"](torch.randn(4, 3))).mean()).backward()
    pair["critic"].zero_grad()  # clearing another part keeps the generator's gradients
    opt.step()
    assert not torch.equal(before, pair["gen"].weight)
