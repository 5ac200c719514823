"""Oracle cases for the training-loop rules (GS6xx); the conventions are those of `cases.py`,
whose `_case` decorator registers each case into the shared `CASES`."""

from __future__ import annotations

from .cases import CASES, OracleCase, _case  # noqa: F401
from .cases import _changed, _in_params, _nonzero_grad


# FACTS pt34: backward(); zero_grad(); step() -- zero_grad wipes the fresh gradients (to None),
# so the step finds nothing to apply: the weights never change, silently.
@_case(
    "GS601",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    for _ in range(5):
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.zero_grad()  # GS601
        opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    ''',
)
class _GS601:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert m.weight.grad is None, "FACTS pt34: grad is None after zero_grad (set_to_none default)"
        assert not _changed(ns["w_before"], m.weight), "the step after zero_grad must leave the weights unchanged"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _nonzero_grad(m.weight), "backward right before step leaves a gradient"
        assert _changed(ns["w_before"], m.weight), "the optimizer should update the weights"


# FACTS pt15: the optimizer holds the old fc's parameters; the new fc gets .grad but the step
# never updates it, while the rest of the model still trains.
@_case(
    "GS602",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 3)
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(torch.relu(self.body(x)))


    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model.fc = nn.Linear(3, 1)  # GS602
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    fc_before = model.fc.weight.detach().clone()
    body_before = model.body.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 3)
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(torch.relu(self.body(x)))


    model = Net()
    model.fc = nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    fc_before = model.fc.weight.detach().clone()
    body_before = model.body.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    ''',
)
class _GS602:
    @staticmethod
    def check_bad(ns):
        m, opt = ns["model"], ns["opt"]
        in_opt = any(p is m.fc.weight for g in opt.param_groups for p in g["params"])
        assert not in_opt, "the new fc's weight must not be in the optimizer"
        assert _in_params(m, m.fc.weight), "the new fc is registered on the model"
        assert _nonzero_grad(m.fc.weight), "FACTS pt15: the new fc still gets .grad"
        assert not _changed(ns["fc_before"], m.fc.weight), "the optimizer must never update the new fc"
        assert _changed(ns["body_before"], m.body.weight), "the other parameters still train"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _changed(ns["fc_before"], m.fc.weight), "fc replaced before the optimizer is built trains"
        assert _changed(ns["body_before"], m.body.weight), "the body trains"
