"""Per-function summaries: which parameters of a function of the file reach its return."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from gradscan.semantics.model import FileModel
from gradscan.semantics.summaries import Summaries

SOURCE = textwrap.dedent('''
    import torch

    def detached(x):
        return x.detach() * 2

    def passes(x, scale):
        h = x * scale
        h = h.relu()
        return h.mean()

    def converts(x):
        return torch.tensor(x.cpu().numpy().sum())

    def logs(x):
        print(x.mean().item())
        return torch.zeros(())

    def pair(a, b):
        return a, b.detach()

    def through_helper(x):
        return detached(x) + 1

    def through_live_helper(x):
        return passes(x, 2.0)

    def recursive(x, n):
        return x if n == 0 else recursive(x, n - 1)

    def star(*xs):
        return xs[0].detach()

    def closure(x):
        f = lambda: x.detach()
        return f()

    @some_decorator
    def decorated(x):
        return x.detach()

    class Net:
        def head(self, h):
            return h.detach()

        @staticmethod
        def scale(h):
            return h * 3
''')


@pytest.fixture(scope="module")
def model():
    return FileModel.build(cst.parse_module(SOURCE), "s.py", SOURCE)


def fn(model, name):
    return next(f for f in model.functions if f.name == name)


@pytest.mark.parametrize("function, param, expected", [
    ("detached", "x", False),
    ("passes", "x", True),
    ("passes", "scale", True),
    ("converts", "x", False),
    ("logs", "x", False),
    ("pair", "a", True),
    ("pair", "b", False),
    ("through_helper", "x", False),
    ("through_live_helper", "x", True),
    ("recursive", "x", True),
    # what the walk cannot see through answers "carries"
    ("closure", "x", True),
    ("decorated", "x", True),
    ("head", "h", False),
    ("scale", "h", True),
])
def test_carries(model, function, param, expected):
    assert model.get(Summaries).carries(fn(model, function), param) is expected


def test_star_parameters_are_unknown(model):
    star = fn(model, "star")
    call = cst.parse_expression("star(y)")
    assert model.get(Summaries).carries_argument(star, call, call.args[0]) is True


def test_method_arguments_skip_self(model):
    head = fn(model, "head")
    call = cst.parse_expression("net.head(y)")
    assert model.get(Summaries).carries_argument(head, call, call.args[0]) is False
    call = cst.parse_expression("net.head(h=y)")
    assert model.get(Summaries).carries_argument(head, call, call.args[0]) is False


def test_decorators():
    source = textwrap.dedent('''
        import functools
        import tensorflow as tf
        import torch

        @torch.no_grad()
        def embed(encoder, x):
            return encoder(x)

        @tf.function(jit_compile=True)
        def compiled(x):
            return x * 2

        @functools.lru_cache()
        def cached(x):
            return x.detach()
    ''')
    model = FileModel.build(cst.parse_module(source), "d.py", source)
    summaries = model.get(Summaries)
    assert summaries.carries(fn(model, "embed"), "x") is False
    assert summaries.carries(fn(model, "compiled"), "x") is True
    assert summaries.carries(fn(model, "cached"), "x") is True  # unknown wrapper: carries


# ---- what a parameter becomes: a tensor of the graph, NumPy/Python data, or nothing ----------
EFFECTS = textwrap.dedent('''
    import torch

    def to_numpy(t):
        return t.detach().cpu().numpy()

    def to_list(t):
        values = t.tolist()
        return values

    def rewrapped(t):
        return torch.tensor(t.detach().numpy())

    def kept(t):
        return t.float() * 2

    def argmax_of(t):
        return t.argmax(-1)
''')


@pytest.mark.parametrize("function, expected", [
    ("to_numpy", "data"), ("to_list", "data"), ("rewrapped", "none"), ("kept", "graph"), ("argmax_of", "none"),
])
def test_effects(function, expected):
    m = FileModel.build(cst.parse_module(EFFECTS), "effects.py", EFFECTS)
    fn = next(f for f in m.functions if f.name == function)
    assert m.get(Summaries).effect(fn, "t") == expected


# ---- the project index's summaries of other files' functions (standard `ast`) --------------
def _index_summary(source: str):
    import ast

    from gradscan.semantics.index_summaries import returns_cut

    names = {"torch": "torch", "np": "numpy", "F": "torch.nn.functional"}
    return returns_cut(ast.parse(textwrap.dedent(source)), names)


def test_index_summaries_tell_data_cut_and_graph_parameters():
    got = _index_summary('''
        def to_numpy(t):
            return t.detach().cpu().numpy()

        def mse_np(a, b):
            return float(np.mean((a.detach().numpy() - b.numpy()) ** 2))

        def scaled(t, scale):
            return t * float(scale)

        def masked(t, mask):
            h = t
            if mask is not None:
                h = h * mask
            return h

        def leaf(t):
            return torch.tensor(t.detach().numpy())

        def as_is(t):
            return torch.as_tensor(t)

        def frozen(t):
            with torch.no_grad():
                h = t * 2
            return h

        def collect(t):
            out = []
            out.append(t.mean())
            return out
    ''')
    assert got == {
        "to_numpy": [["t"], ["t"], ["t"]],
        "mse_np": [["a", "b"], ["a", "b"], ["a", "b"]],
        "scaled": [["t", "scale"], ["scale"], ["scale"]],
        "leaf": [["t"], ["t"], []],
        "frozen": [["t"], ["t"], []],
    }


def test_index_summaries_leave_out_what_they_cannot_follow():
    # closures, generators, *args, unknown decorators and nested functions carry (no entry)
    assert _index_summary('''
        import functools

        def closure(t):
            f = lambda: t.detach()
            return f()

        def gen(t):
            yield t.detach()

        def star(*ts):
            return ts[0].detach()

        @functools.lru_cache()
        def cached(t):
            return t.detach()

        def nested(t):
            def inner():
                return t
            return inner().detach()
    ''') == {}
