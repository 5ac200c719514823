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
