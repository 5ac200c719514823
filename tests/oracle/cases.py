"""Oracle cases: every gradscan rule's BAD and GOOD example, run under the real framework.

Each case holds two complete Python module sources. ``test_oracle.py`` executes them with
``exec(compile(src, f"<oracle {code}>", "exec"), ns)`` and then calls ``check_bad(ns)`` /
``check_good(ns)``, which assert the runtime effect the rule documents (ground truth:
``docs/facts.md``; the FACTS row each case reproduces is named in its comment).

Conventions:
- The buggy line of every BAD source ends with ``# GSxxx`` (the rule code); the static
  cross-check (``test_static_agrees``) expects gradscan to report that rule on that line.
- GOOD sources apply the rule's "use instead" fix and contain no marker.
- Sources are tiny, seeded and CPU only. Framework modules are imported inside the sources
  and inside the checks (lazily), so importing this file needs no framework at all.
- Where the documented effect is an exception, the source defines ``run()`` and the check
  calls it inside ``pytest.raises(..., match=...)``.
- The runner executes source and check inside ``warnings.catch_warnings(record=True)`` and puts
  the recorded list in ``ns["__warnings__"]``, so a check can assert a documented warning.
"""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from typing import Callable

import pytest


@dataclass(frozen=True)
class OracleCase:
    code: str
    framework: str  # "torch", "tensorflow", "tfp", "jax", "pyro"
    bad: str
    good: str
    check_bad: Callable[[dict], None]
    check_good: Callable[[dict], None]


CASES: dict[str, OracleCase] = {}


def _case(code: str, framework: str, bad: str, good: str):
    """Register a case; used as a decorator on a class holding ``check_bad``/``check_good``."""

    def register(holder):
        CASES[code] = OracleCase(
            code=code,
            framework=framework,
            bad=textwrap.dedent(bad).lstrip("\n"),
            good=textwrap.dedent(good).lstrip("\n"),
            check_bad=holder.check_bad,
            check_good=holder.check_good,
        )
        return holder

    return register


# ---------------------------------------------------------------- helpers used by the checks


def _in_params(model, tensor) -> bool:
    return any(p is tensor for p in model.parameters())


def _grad_is_none(t) -> bool:
    # reading .grad of a non-leaf tensor warns; the None itself is the effect we assert
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return t.grad is None


def _nonzero_grad(t) -> bool:
    return t.grad is not None and bool((t.grad != 0).any())


def _changed(before, after) -> bool:
    import torch

    return not torch.equal(before, after.detach())


def _tf_in(var, variables) -> bool:
    """Identity membership that also sees through Keras 3 variable wrappers."""
    for v in variables:
        if v is var or getattr(v, "value", None) is var:
            return True
    return False


def _np_changed(before, after) -> bool:
    import numpy as np

    return not np.allclose(before, after)


# =========================================================================== PyTorch


# FACTS pt01: plain requires_grad tensor attribute -- gets .grad, but is not a parameter,
# not in state_dict, and optimizer(model.parameters()) never updates it.
@_case(
    "GS101",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.w = torch.randn(3, requires_grad=True)  # GS101

        def forward(self, x):
            return self.fc(x * self.w)


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    w_before = model.w.detach().clone()
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
            self.fc = nn.Linear(3, 1)
            self.w = nn.Parameter(torch.randn(3))

        def forward(self, x):
            return self.fc(x * self.w)


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    w_before = model.w.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    ''',
)
class _GS101:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert not _in_params(m, m.w), "plain requires_grad tensor should not be in model.parameters()"
        assert "w" not in m.state_dict(), "plain tensor attribute should not be in state_dict()"
        assert m.w.grad is not None, "FACTS pt01: the tensor itself does receive .grad"
        assert not _changed(ns["w_before"], m.w), "optimizer(model.parameters()) must not update w"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _in_params(m, m.w), "nn.Parameter should be registered"
        assert _nonzero_grad(m.w), "w should get a nonzero gradient"
        assert _changed(ns["w_before"], m.w), "optimizer should update w"


# FACTS pt26: nn.Parameter(t).double() is a plain non-leaf Tensor: unregistered, grad None.
@_case(
    "GS102",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.w = nn.Parameter(torch.randn(3)).double()  # GS102

        def forward(self, x):
            return self.fc((x.double() * self.w).float())


    model = Net()
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.w = nn.Parameter(torch.randn(3).double())

        def forward(self, x):
            return self.fc((x.double() * self.w).float())


    model = Net()
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    ''',
)
class _GS102:
    @staticmethod
    def check_bad(ns):
        import torch.nn as nn

        m = ns["model"]
        assert not isinstance(m.w, nn.Parameter), f"w should be a plain Tensor, got {type(m.w).__name__}"
        assert not _in_params(m, m.w), "w should not be registered"
        assert not m.w.is_leaf, "w should be a non-leaf (cast result)"
        assert _grad_is_none(m.w), "w.grad should be None"
        assert m.fc.weight.grad is not None, "fc still gets gradients"

    @staticmethod
    def check_good(ns):
        import torch

        m = ns["model"]
        assert _in_params(m, m.w) and m.w.dtype == torch.float64, "w should be a registered float64 Parameter"
        assert _nonzero_grad(m.w), "w should get a nonzero gradient"


# FACTS pt03 (+ Dropout follow-up): plain list of modules is not registered.
@_case(
    "GS103",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(3, 3), nn.Dropout(0.5), nn.Linear(3, 1)]  # GS103
            self.out = nn.Linear(1, 1)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.out(x)


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    first_before = model.layers[0].weight.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    model.eval()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Dropout(0.5), nn.Linear(3, 1)])
            self.out = nn.Linear(1, 1)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.out(x)


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    first_before = model.layers[0].weight.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    model.eval()
    ''',
)
class _GS103:
    @staticmethod
    def check_bad(ns):
        import torch

        m = ns["model"]
        n = sum(1 for _ in m.parameters())
        assert n == 2, f"only self.out (weight, bias) should be registered, got {n} parameters"
        assert m.layers[0].weight.grad is not None, "FACTS pt03: list-held layers still get .grad"
        assert not _changed(ns["first_before"], m.layers[0].weight), "optimizer must not update list-held layer"
        drop = m.layers[1]
        assert drop.training, "model.eval() does not reach a list-held Dropout"
        torch.manual_seed(1)
        assert bool((drop(torch.ones(1000)) == 0).any()), "list-held Dropout still drops after model.eval()"

    @staticmethod
    def check_good(ns):
        import torch

        m = ns["model"]
        n = sum(1 for _ in m.parameters())
        assert n == 6, f"ModuleList should register 4 + 2 parameters, got {n}"
        assert _changed(ns["first_before"], m.layers[0].weight), "optimizer should update layers[0]"
        drop = m.layers[1]
        assert not drop.training, "model.eval() should reach the Dropout"
        assert bool((drop(torch.ones(1000)) == 1).all()), "Dropout is the identity in eval mode"


# FACTS pt24: register_buffer of a requires_grad tensor: gets .grad, never updated.
@_case(
    "GS104",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.register_buffer("b", torch.ones(3, requires_grad=True))  # GS104

        def forward(self, x):
            return self.fc(x * self.b)


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    b_before = model.b.detach().clone()
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
            self.fc = nn.Linear(3, 1)
            self.b = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return self.fc(x * self.b)


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    b_before = model.b.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    ''',
)
class _GS104:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert not _in_params(m, m.b), "buffer should not be in parameters()"
        assert "b" in m.state_dict(), "buffer is in state_dict"
        assert m.b.grad is not None, "FACTS pt24: the buffer does receive .grad"
        assert not _changed(ns["b_before"], m.b), "optimizer must not update the buffer"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _in_params(m, m.b), "nn.Parameter b should be registered"
        assert _nonzero_grad(m.b), "b should get a nonzero gradient"
        assert _changed(ns["b_before"], m.b), "optimizer should update b"


# FACTS pt04: unused nn.Parameter: grad None, AdamW(weight_decay) leaves it unchanged.
@_case(
    "GS105",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.scale = nn.Parameter(torch.ones(3))  # GS105

        def forward(self, x):
            return self.fc(x)


    model = Net()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    scale_before = model.scale.detach().clone()
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
            self.fc = nn.Linear(3, 1)
            self.scale = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return self.fc(x * self.scale)


    model = Net()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    scale_before = model.scale.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    ''',
)
class _GS105:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert m.scale.grad is None, f"unused parameter grad should be None, got {m.scale.grad}"
        assert not _changed(ns["scale_before"], m.scale), "AdamW(weight_decay) skips grad-None params"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _nonzero_grad(m.scale), "scale should get a nonzero gradient once forward uses it"
        assert _changed(ns["scale_before"], m.scale), "AdamW should update scale"


# FACTS pt27: module constructed inside forward: new object per call, not in the optimizer.
@_case(
    "GS106",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 3)

        def forward(self, x):
            self.head = nn.Linear(3, 1)  # GS106
            return self.head(self.body(x))


    model = Net()
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    model(x)  # the first call creates the head
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    head_before = model.head
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
            self.head = nn.Linear(3, 1)

        def forward(self, x):
            return self.head(self.body(x))


    model = Net()
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    model(x)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    head_before = model.head
    head_w_before = model.head.weight.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    ''',
)
class _GS106:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert m.head is not ns["head_before"], "forward re-creates the head on every call"
        in_opt = any(p is m.head.weight for g in ns["opt"].param_groups for p in g["params"])
        assert not in_opt, "the current head is not in the optimizer"
        w = m.head.weight.detach().clone()
        m(ns["x"])
        assert _changed(w, m.head.weight), "head weights are re-randomized on each call (never trained)"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert m.head is ns["head_before"], "head is created once"
        in_opt = any(p is m.head.weight for g in ns["opt"].param_groups for p in g["params"])
        assert in_opt, "head is in the optimizer"
        assert _changed(ns["head_w_before"], m.head.weight), "head is trained"


# p.require_grad (typo) just sets a new Python attribute; the parameter keeps training.
@_case(
    "GS107",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    for p in model[0].parameters():
        p.require_grad = False  # GS107
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    frozen_before = model[0].weight.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    for p in model[0].parameters():
        p.requires_grad = False
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    frozen_before = model[0].weight.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    ''',
)
class _GS107:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert m[0].weight.requires_grad, "the typo does not freeze: requires_grad is still True"
        assert _changed(ns["frozen_before"], m[0].weight), "the 'frozen' layer is still trained"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert not m[0].weight.requires_grad, "requires_grad = False freezes the layer"
        assert m[0].weight.grad is None, "a frozen parameter gets no .grad"
        assert not _changed(ns["frozen_before"], m[0].weight), "frozen layer must not change"
        assert _nonzero_grad(m[1].weight), "the other layer still trains"


# FACTS pt16: requires_grad_(False) inside forward: grad None, never updated, flag persists.
@_case(
    "GS108",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(3, 3)
            self.l2 = nn.Linear(3, 1)

        def forward(self, x):
            for p in self.l1.parameters():
                p.requires_grad_(False)  # GS108
            return self.l2(torch.relu(self.l1(x)))


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    l1_before = model.l1.weight.detach().clone()
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
            self.l1 = nn.Linear(3, 3)
            self.l2 = nn.Linear(3, 1)

        def forward(self, x):
            return self.l2(torch.relu(self.l1(x)))


    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    l1_before = model.l1.weight.detach().clone()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    ''',
)
class _GS108:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert m.l1.weight.grad is None, "l1.weight.grad should be None"
        assert not m.l1.weight.requires_grad, "the flag persists after forward"
        assert not _changed(ns["l1_before"], m.l1.weight), "l1 is never updated"
        assert _nonzero_grad(m.l2.weight), "l2 still trains"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _nonzero_grad(m.l1.weight), "l1.weight should get a nonzero gradient"
        assert _changed(ns["l1_before"], m.l1.weight), "optimizer should update l1"


# FACTS pt02: plain tensor attribute: not in state_dict, not moved by .to() (meta stands in for cuda).
@_case(
    "GS109",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.c = torch.zeros(3)  # GS109

        def forward(self, x):
            return self.fc(x + self.c)


    model = Net()


    def run():
        model.to("meta")
        return model(torch.zeros(2, 3, device="meta"))
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.register_buffer("c", torch.zeros(3))

        def forward(self, x):
            return self.fc(x + self.c)


    model = Net()


    def run():
        model.to("meta")
        return model(torch.zeros(2, 3, device="meta"))
    ''',
)
class _GS109:
    @staticmethod
    def check_bad(ns):
        assert "c" not in ns["model"].state_dict(), "plain tensor attribute is not saved in state_dict"
        with pytest.raises(RuntimeError, match="is not on the expected device meta"):
            ns["run"]()
        assert ns["model"].c.device.type == "cpu", "c was not moved by model.to()"

    @staticmethod
    def check_good(ns):
        assert "c" in ns["model"].state_dict(), "a registered buffer is saved in state_dict"
        out = ns["run"]()
        assert out.device.type == "meta" and ns["model"].c.device.type == "meta", "the buffer moves with model.to('meta') and forward runs on meta"


def _two_layer_checks(attr_cut: str = "l1"):
    """check_bad/check_good for 'l1 feeds l2 in forward' cases: upstream grad None vs flowing."""

    def check_bad(ns):
        m = ns["model"]
        assert getattr(m, attr_cut).weight.grad is None, f"{attr_cut}.weight.grad should be None"
        assert _nonzero_grad(m.l2.weight), "downstream l2 still gets gradients"

    def check_good(ns):
        m = ns["model"]
        assert _nonzero_grad(m.l1.weight), "l1.weight should get a nonzero gradient"
        assert _nonzero_grad(m.l2.weight), "l2.weight should get a nonzero gradient"

    return check_bad, check_good


_TWO_LAYER = '''
import torch
import torch.nn as nn

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(3, 3)
        self.l2 = nn.Linear(3, 1)

    def forward(self, x):
{body}


model = Net()
x, y = torch.randn(8, 3), torch.randn(8, 1)
loss = ((model(x) - y) ** 2).mean()
loss.backward()
'''


def _two_layer(body: str) -> str:
    return _TWO_LAYER.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8))


_GOOD_TWO_LAYER = _two_layer(
    """
    h = self.l1(x)
    return self.l2(torch.relu(h))
    """
)


def _register_two_layer(code: str, bad_body: str, good: str = _GOOD_TWO_LAYER, extra_bad=None):
    check_bad, check_good = _two_layer_checks()
    if extra_bad is not None:
        base = check_bad

        def check_bad(ns, _base=base):
            _base(ns)
            extra_bad(ns)

    CASES[code] = OracleCase(code, "torch", _two_layer(bad_body).lstrip("\n"), good.lstrip("\n"), check_bad, check_good)


# FACTS pt05
_register_two_layer(
    "GS201",
    """
    h = self.l1(x).detach()  # GS201
    return self.l2(torch.relu(h))
    """,
)

# FACTS pt06
_register_two_layer(
    "GS202",
    """
    h = self.l1(x).data  # GS202
    return self.l2(torch.relu(h))
    """,
)

# FACTS pt08 (partial no_grad)
_register_two_layer(
    "GS203",
    """
    with torch.no_grad(): h = self.l1(x)  # GS203
    return self.l2(torch.relu(h))
    """,
)


def _gs204_warned(ns):
    msgs = [str(w.message) for w in ns["__warnings__"] if issubclass(w.category, UserWarning)]
    assert any("To copy construct from a tensor" in m for m in msgs), f"expected torch.tensor(h) UserWarning, got {msgs}"


# FACTS pt07: torch.tensor(h) copies the value into a new leaf (UserWarning), upstream grad None.
_register_two_layer(
    "GS204",
    """
    h = self.l1(x)
    h = torch.tensor(h)  # GS204
    return self.l2(torch.relu(h))
    """,
    extra_bad=_gs204_warned,
)


# FACTS pt28: math.exp(tensor) returns a Python float: silent cut.
@_case(
    "GS205",
    "torch",
    bad='''
    import math

    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.log_scale = nn.Parameter(torch.tensor(0.5))

        def forward(self, x):
            scale = math.exp(self.log_scale)  # GS205
            return self.fc(x) * scale


    model = Net()
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.log_scale = nn.Parameter(torch.tensor(0.5))

        def forward(self, x):
            scale = torch.exp(self.log_scale)
            return self.fc(x) * scale


    model = Net()
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    ''',
)
class _GS205:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert m.log_scale.grad is None, "log_scale.grad should be None (math.exp returns a float)"
        assert _nonzero_grad(m.fc.weight), "fc still gets gradients"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _nonzero_grad(m.log_scale), "torch.exp keeps log_scale in the graph"
        assert _nonzero_grad(m.fc.weight), "fc.weight should get a nonzero gradient"


# FACTS pt12: loss.requires_grad = True silences the error; nothing trains.
@_case(
    "GS206",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    out = model(x).detach()
    loss = ((out - y) ** 2).mean()
    loss.requires_grad = True  # GS206
    loss.backward()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    out = model(x)
    loss = ((out - y) ** 2).mean()
    loss.backward()
    ''',
)
class _GS206:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert ns["loss"].is_leaf, "the loss is a fresh leaf, disconnected from the model"
        assert m.weight.grad is None and m.bias.grad is None, "backward succeeds but trains nothing"

    @staticmethod
    def check_good(ns):
        assert _nonzero_grad(ns["model"].weight), "without the cut the weights get nonzero gradients"


# FACTS pt13: round() has a grad_fn but the gradient is exactly zero; STE flows.
@_case(
    "GS207",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = torch.randn(8, 3) * 3, torch.randn(8, 1) * 3
    loss = (model(x).round() - y).abs().mean()  # GS207
    loss.backward()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = torch.randn(8, 3) * 3, torch.randn(8, 1) * 3
    out = model(x)
    q = out + (out.round() - out).detach()
    loss = (q - y).abs().mean()
    loss.backward()
    ''',
)
class _GS207:
    @staticmethod
    def check_bad(ns):
        g = ns["model"].weight.grad
        assert g is not None and bool((g == 0).all()), f"round() gives exactly zero gradients, got {g}"

    @staticmethod
    def check_good(ns):
        assert _nonzero_grad(ns["model"].weight), "straight-through estimator passes gradients"


_VAE = '''
import torch
import torch.nn as nn

torch.manual_seed(0)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 2)
        self.dec = nn.Linear(1, 4)

    def forward(self, x):
        h = self.enc(x)
        mu, log_sigma = h[:, :1], h[:, 1:]
{sample}
        return self.dec(z)


model = VAE()
x = torch.randn(8, 4)
loss = ((model(x) - x) ** 2).mean()
loss.backward()
'''


def _vae(line: str) -> str:
    return _VAE.format(sample=" " * 8 + line).lstrip("\n")


def _enc_grad_none(ns):
    m = ns["model"]
    assert m.enc.weight.grad is None, f"encoder gets no gradient through .sample(), got {m.enc.weight.grad}"
    assert _nonzero_grad(m.dec.weight), "decoder still trains"


def _enc_grad_flows(ns):
    m = ns["model"]
    assert _nonzero_grad(m.enc.weight), "encoder should get a nonzero gradient"
    assert _nonzero_grad(m.dec.weight), "decoder should get a nonzero gradient"


# FACTS pt09: .sample() has no grad_fn; .rsample() flows.
CASES["GS301"] = OracleCase(
    "GS301",
    "torch",
    _vae("z = torch.distributions.Normal(mu, log_sigma.exp()).sample()  # GS301"),
    _vae("z = torch.distributions.Normal(mu, log_sigma.exp()).rsample()"),
    _enc_grad_none,
    _enc_grad_flows,
)


def _enc_grad_zero(ns):
    g = ns["model"].enc.weight.grad
    assert g is not None, "FACTS pt10: torch.normal has a grad_fn, so a gradient tensor exists"
    assert bool((g == 0).all()), f"torch.normal gives all-zero gradients to mean/std, got {g}"


# FACTS pt10: torch.normal(mean_t, std_t): grads silently zero.
CASES["GS302"] = OracleCase(
    "GS302",
    "torch",
    _vae("z = torch.normal(mu, log_sigma.exp())  # GS302"),
    _vae("z = mu + log_sigma.exp() * torch.randn_like(mu)"),
    _enc_grad_zero,
    _enc_grad_flows,
)


_BERNOULLI = '''
import torch
import torch.nn as nn

torch.manual_seed(0)


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 3)
        self.dec = nn.Linear(3, 4)

    def forward(self, x):
        p = torch.sigmoid(self.enc(x))
{sample}
        return self.dec(b)


model = Gate()
x = torch.randn(8, 4)
loss = ((model(x) - x) ** 2).mean()
loss.backward()
'''

# FACTS pt09: Bernoulli has no rsample; RelaxedBernoulli.rsample() flows.
CASES["GS303"] = OracleCase(
    "GS303",
    "torch",
    _BERNOULLI.format(sample=" " * 8 + "b = torch.distributions.Bernoulli(probs=p).sample()  # GS303").lstrip("\n"),
    _BERNOULLI.format(
        sample=" " * 8 + "b = torch.distributions.RelaxedBernoulli(torch.tensor(0.5), probs=p).rsample()"
    ).lstrip("\n"),
    _enc_grad_none,
    _enc_grad_flows,
)


# FACTS py42: `.sample()` on a pyro.distributions object is torch's (blocks gradients), while
# `pyro.sample(name, d)` draws with rsample by itself.
_PYRO_GUIDE = '''
import pyro
import pyro.distributions as dist
import torch
import torch.nn as nn

pyro.set_rng_seed(0)


class Guide(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 2)
        self.dec = nn.Linear(1, 4)

    def forward(self, x):
        h = self.enc(x)
{sample}
        return self.dec(z)


model = Guide()
x = torch.randn(8, 4)
loss = ((model(x) - x) ** 2).mean()
loss.backward()
'''

CASES["GS301-pyro"] = OracleCase(
    "GS301",
    "pyro",
    _PYRO_GUIDE.format(sample=" " * 8 + "z = dist.Normal(h[:, :1], h[:, 1:].exp()).sample()  # GS301").lstrip("\n"),
    _PYRO_GUIDE.format(sample=" " * 8 + 'z = pyro.sample("z", dist.Normal(h[:, :1], h[:, 1:].exp()))').lstrip("\n"),
    _enc_grad_none,
    _enc_grad_flows,
)


# FACTS tf35: a NOT_REPARAMETERIZED TF Probability sample gives the logits no gradient (None);
# RelaxedBernoulli is reparameterized and passes it.
_TFP_GATE = '''
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tf.random.set_seed(0)


class Gate(tf.keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.enc = tf.keras.layers.Dense(3)
        self.dec = tf.keras.layers.Dense(4)

    def call(self, x):
        logits = self.enc(x)
{sample}
        return self.dec(b)


model = Gate()
x = tf.random.normal((8, 4))
with tf.GradientTape() as tape:
    loss = tf.reduce_mean((model(x) - x) ** 2)
grads = tape.gradient(loss, model.enc.trainable_variables)
'''


def _tfp_enc_grads_none(ns):
    assert ns["grads"] and all(g is None for g in ns["grads"]), f"encoder gets no gradient, got {ns['grads']}"


def _tfp_enc_grads_flow(ns):
    assert ns["grads"] and all(g is not None and bool((g.numpy() != 0).any()) for g in ns["grads"]), f"encoder gradients: {ns['grads']}"


CASES["GS303-tfp"] = OracleCase(
    "GS303",
    "tfp",
    _TFP_GATE.format(sample=" " * 8 + "b = tfd.Bernoulli(logits=logits, dtype=tf.float32).sample()  # GS303").lstrip("\n"),
    _TFP_GATE.format(sample=" " * 8 + "b = tfd.RelaxedBernoulli(0.5, logits=logits).sample()").lstrip("\n"),
    _tfp_enc_grads_none,
    _tfp_enc_grads_flow,
)


# FACTS jx41: jax.random.bernoulli of traced probabilities gives them a silent zero gradient;
# a relaxed (logistic-noise) sample passes it.
_JAX_GATE = '''
import jax
import jax.numpy as jnp


def loss_fn(w, key, x, y):
    p = jax.nn.sigmoid(x @ w)
{sample}
    return jnp.mean((b * x[:, :1] - y) ** 2)


key = jax.random.PRNGKey(0)
x = jax.random.normal(key, (8, 4))
y = jnp.ones((8, 1))
grad = jax.grad(loss_fn)(jnp.full((4, 1), 0.1), key, x, y)
'''


def _jax_grad_zero(ns):
    assert bool((ns["grad"] == 0).all()), f"jax.random.bernoulli gives an all-zero gradient, got {ns['grad']}"


def _jax_grad_nonzero(ns):
    assert bool((ns["grad"] != 0).any()), f"the relaxed sample should pass a gradient, got {ns['grad']}"


CASES["GS303-jax"] = OracleCase(
    "GS303",
    "jax",
    _JAX_GATE.format(sample=" " * 4 + "b = jax.random.bernoulli(key, p).astype(jnp.float32)  # GS303").lstrip("\n"),
    _JAX_GATE.format(
        sample=" " * 4 + "u = jax.random.uniform(key, p.shape, minval=1e-6, maxval=1 - 1e-6)\n"
        + " " * 4 + "b = jax.nn.sigmoid((jnp.log(p) - jnp.log1p(-p) + jnp.log(u) - jnp.log1p(-u)) / 0.5)"
    ).lstrip("\n"),
    _jax_grad_zero,
    _jax_grad_nonzero,
)


# =========================================================================== TensorFlow / Keras 3


# FACTS tf25/tf40: Keras 3 does not track a raw tf.Variable attribute.
@_case(
    "GS401",
    "tensorflow",
    bad='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.d = tf.keras.layers.Dense(1)
            self.gamma = tf.Variable(tf.ones(3), name="gamma")  # GS401

        def call(self, x):
            return self.d(x * self.gamma)


    model = Net()
    opt = tf.keras.optimizers.SGD(0.1)
    x, y = tf.random.normal((8, 3)), tf.random.normal((8, 1))
    model(x)
    gamma_before = model.gamma.numpy().copy()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    ''',
    good='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.d = tf.keras.layers.Dense(1)
            self.gamma = self.add_weight(shape=(3,), initializer="ones", name="gamma")

        def call(self, x):
            return self.d(x * self.gamma)


    model = Net()
    opt = tf.keras.optimizers.SGD(0.1)
    x, y = tf.random.normal((8, 3)), tf.random.normal((8, 1))
    model(x)
    gamma_before = model.gamma.numpy().copy()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    ''',
)
class _GS401:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        n = len(m.trainable_variables)
        assert not _tf_in(m.gamma, m.trainable_variables), "raw tf.Variable is not tracked by Keras 3"
        assert n == 2, f"only the Dense kernel and bias are trainable, got {n}"
        assert not _np_changed(ns["gamma_before"], m.gamma.numpy()), "gamma is never updated"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _tf_in(m.gamma, m.trainable_variables), "add_weight is tracked"
        assert len(m.trainable_variables) == 3, "Dense kernel, bias and gamma are trainable"
        assert _np_changed(ns["gamma_before"], m.gamma.numpy()), "gamma is trained"


# FACTS tf37: tf.Variable created in call(): a new untracked variable on every eager call; under
# tf.function the singleton-variable ValueError (FACTS saw it via fit(); here via tf.function directly).
@_case(
    "GS402",
    "tensorflow",
    bad='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class Scale(tf.keras.layers.Layer):
        def call(self, x):
            self.w = tf.Variable(tf.ones(x.shape[-1]))  # GS402
            return x * self.w


    layer = Scale()
    x = tf.random.normal((8, 3))
    layer(x)
    first_w = layer.w
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)


    def run():
        step = tf.function(Scale())
        step(x)
        return step(x)
    ''',
    good='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class Scale(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w


    layer = Scale()
    x = tf.random.normal((8, 3))
    layer(x)
    first_w = layer.w
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)


    def run():
        step = tf.function(Scale())
        step(x)
        return step(x)
    ''',
)
class _GS402:
    @staticmethod
    def check_bad(ns):
        layer = ns["layer"]
        assert layer.w is not ns["first_w"], "a new variable is created on every call"
        assert not _tf_in(layer.w, layer.trainable_variables), "the variable is not tracked"
        assert ns["grads"] == [], f"nothing to train: {ns['grads']}"
        with pytest.raises(ValueError, match="tf.function only supports singleton tf.Variables"):
            ns["run"]()

    @staticmethod
    def check_good(ns):
        layer = ns["layer"]
        assert layer.w is ns["first_w"], "the weight is created once"
        assert _tf_in(layer.w, layer.trainable_variables), "the add_weight variable is tracked"
        (g,) = ns["grads"]
        assert g is not None and bool((g.numpy() != 0).any()), f"the weight should get a nonzero gradient, got {g}"
        out = ns["run"]()
        assert out.shape == (8, 3), "the build()-created weight also works under tf.function"


def _tf_grad_none(name="grad"):
    def check(ns):
        g = ns[name]
        assert g is None, f"gradient should be None, got {g}"

    return check


def _tf_grad_nonzero(name="grad"):
    def check(ns):
        g = ns[name]
        assert g is not None, "gradient should not be None"
        assert bool((g.numpy() != 0).any()), f"gradient should be nonzero, got {g}"

    return check


# FACTS tf28: numpy_function output on the loss path: grad None.
CASES["GS403"] = OracleCase(
    "GS403",
    "tensorflow",
    textwrap.dedent(
        '''
        import numpy as np
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0, 3.0])
        x = tf.constant([0.5, -1.0, 2.0])


        def np_square(a):
            return np.square(a).astype(np.float32)


        with tf.GradientTape() as tape:
            y = tf.numpy_function(np_square, [x * v], tf.float32)  # GS403
            loss = tf.reduce_sum(y)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    textwrap.dedent(
        '''
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0, 3.0])
        x = tf.constant([0.5, -1.0, 2.0])

        with tf.GradientTape() as tape:
            y = tf.square(x * v)
            loss = tf.reduce_sum(y)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    _tf_grad_none(),
    _tf_grad_nonzero(),
)

# FACTS tf30: .numpy() inside the tape: grad None (eager, silent).
CASES["GS404"] = OracleCase(
    "GS404",
    "tensorflow",
    textwrap.dedent(
        '''
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0, 3.0])
        x = tf.constant([0.5, -1.0, 2.0])

        with tf.GradientTape() as tape:
            h = (x * v).numpy()  # GS404
            loss = tf.reduce_sum(h ** 2)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    textwrap.dedent(
        '''
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0, 3.0])
        x = tf.constant([0.5, -1.0, 2.0])

        with tf.GradientTape() as tape:
            h = x * v
            loss = tf.reduce_sum(h ** 2)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    _tf_grad_none(),
    _tf_grad_nonzero(),
)


# FACTS tf32: loss computed after the tape block: all grads None.
@_case(
    "GS405",
    "tensorflow",
    bad='''
    import tensorflow as tf

    tf.random.set_seed(0)
    model = tf.keras.layers.Dense(1)
    x, y = tf.random.normal((8, 3)), tf.random.normal((8, 1))
    model(x)
    with tf.GradientTape() as tape:
        pred = model(x)
    loss = tf.reduce_mean((pred - y) ** 2)  # GS405
    grads = tape.gradient(loss, model.trainable_variables)
    ''',
    good='''
    import tensorflow as tf

    tf.random.set_seed(0)
    model = tf.keras.layers.Dense(1)
    x, y = tf.random.normal((8, 3)), tf.random.normal((8, 1))
    model(x)
    with tf.GradientTape() as tape:
        pred = model(x)
        loss = tf.reduce_mean((pred - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    ''',
)
class _GS405:
    @staticmethod
    def check_bad(ns):
        grads = ns["grads"]
        assert len(grads) == 2 and all(g is None for g in grads), f"all gradients should be None, got {grads}"

    @staticmethod
    def check_good(ns):
        grads = ns["grads"]
        assert len(grads) == 2 and all(g is not None for g in grads), f"all gradients should exist, got {grads}"
        assert bool((grads[0].numpy() != 0).any()), "kernel gradient should be nonzero"


# FACTS tf33: stop_gradient: grad None (not zeros) upstream.
@_case(
    "GS406",
    "tensorflow",
    bad='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = tf.keras.layers.Dense(4)
            self.d2 = tf.keras.layers.Dense(1)

        def call(self, x):
            h = tf.stop_gradient(self.d1(x))  # GS406
            return self.d2(tf.nn.relu(h))


    model = Net()
    x, y = tf.random.normal((8, 3)), tf.random.normal((8, 1))
    model(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    d1_grad, d2_grad = tape.gradient(loss, [model.d1.kernel, model.d2.kernel])
    ''',
    good='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = tf.keras.layers.Dense(4)
            self.d2 = tf.keras.layers.Dense(1)

        def call(self, x):
            h = self.d1(x)
            return self.d2(tf.nn.relu(h))


    model = Net()
    x, y = tf.random.normal((8, 3)), tf.random.normal((8, 1))
    model(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    d1_grad, d2_grad = tape.gradient(loss, [model.d1.kernel, model.d2.kernel])
    ''',
)
class _GS406:
    @staticmethod
    def check_bad(ns):
        _tf_grad_none("d1_grad")(ns)
        _tf_grad_nonzero("d2_grad")(ns)

    @staticmethod
    def check_good(ns):
        _tf_grad_nonzero("d1_grad")(ns)
        _tf_grad_nonzero("d2_grad")(ns)


# FACTS tf36: tf.round on the loss path: grad None; straight-through flows.
CASES["GS407"] = OracleCase(
    "GS407",
    "tensorflow",
    textwrap.dedent(
        '''
        import tensorflow as tf

        v = tf.Variable([0.3, -1.2, 2.5])
        target = tf.constant([1.0, 0.0, 2.0])

        with tf.GradientTape() as tape:
            q = tf.round(v * 2.0)  # GS407
            loss = tf.reduce_sum((q - target) ** 2)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    textwrap.dedent(
        '''
        import tensorflow as tf

        v = tf.Variable([0.3, -1.2, 2.5])
        target = tf.constant([1.0, 0.0, 2.0])

        with tf.GradientTape() as tape:
            h = v * 2.0
            q = h + tf.stop_gradient(tf.round(h) - h)
            loss = tf.reduce_sum((q - target) ** 2)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    _tf_grad_none(),
    _tf_grad_nonzero(),
)

# FACTS tf38: watch_accessed_variables=False without tape.watch: grad None.
CASES["GS408"] = OracleCase(
    "GS408",
    "tensorflow",
    textwrap.dedent(
        '''
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0])

        with tf.GradientTape(watch_accessed_variables=False) as tape:  # GS408
            loss = tf.reduce_sum(v * v)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    textwrap.dedent(
        '''
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0])

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(v)
            loss = tf.reduce_sum(v * v)
        grad = tape.gradient(loss, v)
        '''
    ).lstrip("\n"),
    _tf_grad_none(),
    _tf_grad_nonzero(),
)


# FACTS tf43: layer.trainable = False after compile()+fit() without recompiling: still trained.
# The first fit() matters under Keras 3: freezing after compile() but before the first fit() IS
# honoured there (the train function is built on the first fit); tf_keras ignores it either way.
@_case(
    "GS409",
    "tensorflow",
    bad='''
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((3,))
    d1 = tf.keras.layers.Dense(3)
    d2 = tf.keras.layers.Dense(1)
    model = tf.keras.Model(inputs, d2(d1(inputs)))
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    X, Y = np.ones((8, 3), "float32"), np.full((8, 1), 3.0, "float32")
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    d1.trainable = False  # GS409
    d1_before = d1.kernel.numpy().copy()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    ''',
    good='''
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((3,))
    d1 = tf.keras.layers.Dense(3)
    d2 = tf.keras.layers.Dense(1)
    model = tf.keras.Model(inputs, d2(d1(inputs)))
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    X, Y = np.ones((8, 3), "float32"), np.full((8, 1), 3.0, "float32")
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    d1.trainable = False
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    d1_before = d1.kernel.numpy().copy()
    d2_before = d2.kernel.numpy().copy()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    ''',
)
class _GS409:
    @staticmethod
    def check_bad(ns):
        assert _np_changed(ns["d1_before"], ns["d1"].kernel.numpy()), "the 'frozen' layer is still updated by fit()"

    @staticmethod
    def check_good(ns):
        assert not _np_changed(ns["d1_before"], ns["d1"].kernel.numpy()), "after recompiling, d1 stays frozen"
        assert _np_changed(ns["d2_before"], ns["d2"].kernel.numpy()), "d2 still trains"


# FACTS tf49: a value computed from a layer's weights in build() is a constant tensor: call()
# reads it, the tape never reaches the weights, their gradients are None.
@_case(
    "GS410",
    "tensorflow",
    bad='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class NoisyDense(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.mu = self.add_weight(shape=(input_shape[-1], 2), initializer="glorot_uniform")
            self.sigma = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")
            self.kernel = self.mu + self.sigma * tf.random.normal((input_shape[-1], 2))  # GS410

        def call(self, x):
            return x @ self.kernel


    layer = NoisyDense()
    x = tf.random.normal((8, 4))
    layer(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(layer(x) ** 2)
    grads = tape.gradient(loss, [layer.mu, layer.sigma])
    ''',
    good='''
    import tensorflow as tf

    tf.random.set_seed(0)


    class NoisyDense(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.mu = self.add_weight(shape=(input_shape[-1], 2), initializer="glorot_uniform")
            self.sigma = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")

        def call(self, x):
            kernel = self.mu + self.sigma * tf.random.normal(tf.shape(self.mu))
            return x @ kernel


    layer = NoisyDense()
    x = tf.random.normal((8, 4))
    layer(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(layer(x) ** 2)
    grads = tape.gradient(loss, [layer.mu, layer.sigma])
    ''',
)
class _GS410:
    @staticmethod
    def check_bad(ns):
        assert all(g is None for g in ns["grads"]), f"mu and sigma get no gradient: {ns['grads']}"

    @staticmethod
    def check_good(ns):
        assert all(g is not None for g in ns["grads"]), "computed in call(), mu and sigma get gradients"


# FACTS tf55: a float variable made with trainable=False is left out of trainable_variables:
# fit() and tape.gradient over them never update it, so nothing but an assignment moves it.
@_case(
    "GS412",
    "tensorflow",
    bad='''
    import numpy as np
    import tensorflow as tf

    tf.random.set_seed(0)


    class ScaledDense(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="glorot_uniform")
            self.gain = self.add_weight(shape=(2,), initializer="ones", trainable=False)  # GS412

        def call(self, x):
            return tf.matmul(x, self.kernel) * self.gain


    inputs = tf.keras.Input((3,))
    layer = ScaledDense()
    model = tf.keras.Model(inputs, layer(inputs))
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    X, Y = np.ones((8, 3), "float32"), np.full((8, 2), 5.0, "float32")
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    ''',
    good='''
    import numpy as np
    import tensorflow as tf

    tf.random.set_seed(0)


    class ScaledDense(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="glorot_uniform")
            self.gain = self.add_weight(shape=(2,), initializer="ones")

        def call(self, x):
            return tf.matmul(x, self.kernel) * self.gain


    inputs = tf.keras.Input((3,))
    layer = ScaledDense()
    model = tf.keras.Model(inputs, layer(inputs))
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    X, Y = np.ones((8, 3), "float32"), np.full((8, 2), 5.0, "float32")
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    ''',
)
class _GS412:
    @staticmethod
    def check_bad(ns):
        assert not _np_changed([1.0, 1.0], ns["layer"].gain.numpy()), "the frozen gain never moves"
        assert not _tf_in(ns["layer"].gain, ns["model"].trainable_variables)

    @staticmethod
    def check_good(ns):
        assert _np_changed([1.0, 1.0], ns["layer"].gain.numpy()), "a trainable gain learns"


# FACTS tf57: an integer variable (`tf.Variable(0)`) listed as a gradient source gets gradient
# None; the optimizer skips it and it keeps its value while the float weights beside it train.
@_case(
    "GS413",
    "tensorflow",
    bad='''
    import tensorflow as tf

    slope = tf.Variable(0.5)
    offset = tf.Variable(0)  # GS413
    opt = tf.keras.optimizers.SGD(0.1)
    x = tf.linspace(-1.0, 1.0, 8)
    y = 2.0 * x + 3.0
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((slope * x + tf.cast(offset, tf.float32) - y) ** 2)
    grads = tape.gradient(loss, [slope, offset])
    opt.apply_gradients(zip(grads, [slope, offset]))
    ''',
    good='''
    import tensorflow as tf

    slope = tf.Variable(0.5)
    offset = tf.Variable(0.0)
    opt = tf.keras.optimizers.SGD(0.1)
    x = tf.linspace(-1.0, 1.0, 8)
    y = 2.0 * x + 3.0
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((slope * x + tf.cast(offset, tf.float32) - y) ** 2)
    grads = tape.gradient(loss, [slope, offset])
    opt.apply_gradients(zip(grads, [slope, offset]))
    ''',
)
class _GS413:
    @staticmethod
    def check_bad(ns):
        assert ns["grads"][1] is None, "an int32 variable gets gradient None"
        assert int(ns["offset"].numpy()) == 0 and ns["offset"].dtype.is_integer
        assert ns["grads"][0] is not None

    @staticmethod
    def check_good(ns):
        assert ns["grads"][1] is not None and float(ns["offset"].numpy()) != 0.0


# FACTS tf58: a variable a Lambda layer's function closes over is tracked by no layer: the
# model's trainable_variables leave it out and fit() never moves it; in a Layer subclass
# (add_weight) the same scale trains.
@_case(
    "GS414",
    "tensorflow",
    bad='''
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    scale = keras.Variable(1.0)
    inputs = keras.Input((4,))
    logits = layers.Dense(3)(inputs)
    outputs = layers.Lambda(lambda t: t * scale)(logits)  # GS414
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.full((8, 3), 4.0, "float32"), epochs=2, verbose=0)
    learned = float(np.asarray(scale.numpy()))
    ''',
    good='''
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)


    class Scale(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones")

        def call(self, x):
            return x * self.scale


    inputs = keras.Input((4,))
    logits = layers.Dense(3)(inputs)
    scaler = Scale()
    outputs = scaler(logits)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.full((8, 3), 4.0, "float32"), epochs=2, verbose=0)
    learned = float(np.asarray(scaler.scale.numpy()))
    ''',
)
class _GS414:
    @staticmethod
    def check_bad(ns):
        assert ns["learned"] == 1.0, "the captured scale never trains"
        assert len(ns["model"].trainable_variables) == 2

    @staticmethod
    def check_good(ns):
        assert ns["learned"] != 1.0, "a weight of a Layer subclass trains"


# FACTS tf59: `net.trainable = False` empties net.trainable_variables: a tape given that list
# returns [] and tf_keras's apply_gradients(zip([], [])) does nothing; unfrozen, the net trains.
@_case(
    "GS415",
    "tensorflow",
    bad='''
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    tf.random.set_seed(0)
    critic = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    critic.trainable = False
    opt = keras.optimizers.SGD(0.1)
    before = [w.copy() for w in critic.get_weights()]
    real, fake = tf.ones((4, 2)), tf.zeros((4, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real))
    grads = tape.gradient(loss, critic.trainable_variables)  # GS415
    opt.apply_gradients(zip(grads, critic.trainable_variables))
    moved = any(not np.array_equal(a, b) for a, b in zip(before, critic.get_weights()))
    ''',
    good='''
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    tf.random.set_seed(0)
    critic = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    opt = keras.optimizers.SGD(0.1)
    before = [w.copy() for w in critic.get_weights()]
    real, fake = tf.ones((4, 2)), tf.zeros((4, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real))
    grads = tape.gradient(loss, critic.trainable_variables)
    opt.apply_gradients(zip(grads, critic.trainable_variables))
    moved = any(not np.array_equal(a, b) for a, b in zip(before, critic.get_weights()))
    ''',
)
class _GS415:
    @staticmethod
    def check_bad(ns):
        assert ns["grads"] == [] and not ns["moved"], "a frozen critic lists no variables and never moves"

    @staticmethod
    def check_good(ns):
        assert len(ns["grads"]) == 2 and ns["moved"]


# FACTS tf60: a GradientTape step differentiates only what it computes: a weight trained only by
# a layer's add_loss term gets gradient None unless the step adds model.losses; a kernel
# regularizer's term is left out of the gradient the same way.
@_case(
    "GS416",
    "tensorflow",
    bad='''
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(0)


    class Gate(layers.Layer):
        def build(self, input_shape):
            self.logit = self.add_weight(shape=(), initializer="zeros")

        def call(self, x):
            self.add_loss(tf.sigmoid(self.logit))
            return x


    gate = Gate()
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, kernel_regularizer=keras.regularizers.l2(1.0)), gate])
    x, y = tf.ones((4, 3)), tf.zeros((4, 2))
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))  # GS416
        data_only = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    keras.optimizers.SGD(0.01).apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
    kernel_grad, kernel_data = tape.gradient(loss, model.layers[0].kernel), tape.gradient(data_only, model.layers[0].kernel)
    gate_grad = tape.gradient(loss, gate.logit)
    ''',
    good='''
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(0)


    class Gate(layers.Layer):
        def build(self, input_shape):
            self.logit = self.add_weight(shape=(), initializer="zeros")

        def call(self, x):
            self.add_loss(tf.sigmoid(self.logit))
            return x


    gate = Gate()
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, kernel_regularizer=keras.regularizers.l2(1.0)), gate])
    x, y = tf.ones((4, 3)), tf.zeros((4, 2))
    with tf.GradientTape(persistent=True) as tape:
        pred = model(x)
        data_only = tf.reduce_mean(tf.square(pred - y))
        loss = data_only + tf.add_n(model.losses)
    grads = tape.gradient(loss, model.trainable_variables)
    keras.optimizers.SGD(0.01).apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
    kernel_grad, kernel_data = tape.gradient(loss, model.layers[0].kernel), tape.gradient(data_only, model.layers[0].kernel)
    gate_grad = tape.gradient(loss, gate.logit)
    ''',
)
class _GS416:
    @staticmethod
    def check_bad(ns):
        import numpy as np

        assert ns["gate_grad"] is None, "the add_loss term never reaches the tape's loss"
        assert np.array_equal(ns["kernel_grad"].numpy(), ns["kernel_data"].numpy()), "the L2 term adds nothing"

    @staticmethod
    def check_good(ns):
        import numpy as np

        assert ns["gate_grad"] is not None and float(ns["gate_grad"]) != 0.0
        assert not np.array_equal(ns["kernel_grad"].numpy(), ns["kernel_data"].numpy())


# FACTS tf61: a layer's trainable_variables read before its first call is an empty list, and a
# list saved then stays empty: the tape and optimizer given it never train that layer.
@_case(
    "GS417",
    "tensorflow",
    bad='''
    import numpy as np
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    backbone = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu")])
    head = keras.layers.Dense(2)
    train_vars = backbone.trainable_variables + head.trainable_variables  # GS417
    opt = keras.optimizers.SGD(0.1)
    x, y = tf.ones((4, 6)), tf.zeros((4, 2))
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(head(backbone(x)) - y + 1.0))
        opt.apply_gradients(zip(tape.gradient(loss, train_vars), train_vars))
        if _ == 0:
            head_start = [w.copy() for w in head.get_weights()]
    head_moved = any(not np.array_equal(a, b) for a, b in zip(head_start, head.get_weights()))
    ''',
    good='''
    import numpy as np
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    backbone = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu")])
    head = keras.layers.Dense(2)
    head.build((None, 8))
    train_vars = backbone.trainable_variables + head.trainable_variables
    opt = keras.optimizers.SGD(0.1)
    x, y = tf.ones((4, 6)), tf.zeros((4, 2))
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(head(backbone(x)) - y + 1.0))
        opt.apply_gradients(zip(tape.gradient(loss, train_vars), train_vars))
        if _ == 0:
            head_start = [w.copy() for w in head.get_weights()]
    head_moved = any(not np.array_equal(a, b) for a, b in zip(head_start, head.get_weights()))
    ''',
)
class _GS417:
    @staticmethod
    def check_bad(ns):
        assert len(ns["train_vars"]) == 2 and not ns["head_moved"], "the unbuilt head was never listed"

    @staticmethod
    def check_good(ns):
        assert len(ns["train_vars"]) == 4 and ns["head_moved"]
