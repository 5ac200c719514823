"""The mutation tier's operators (benchmarks/mutate.py) on tiny sources: each mutant is valid
Python and changes exactly one site. Recall itself is measured by the script, not here."""
from __future__ import annotations

import ast
import difflib
import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("gradscan_bench_mutate",
                                               Path(__file__).resolve().parent.parent / "benchmarks" / "mutate.py")
mutate = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = mutate  # dataclasses look their module up there
_SPEC.loader.exec_module(mutate)

TORCH = '''import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.out = nn.Linear(4, 1)
        self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.scale = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1) + 0.5)
        self.frozen = nn.Parameter(torch.ones(1), requires_grad=False)

    def forward(self, x):
        h = self.fc(x)
        for block in self.blocks:
            h = block(h)
        dist = torch.distributions.Normal(h, 1.0)
        z = dist.rsample()
        return self.out(z) * self.scale + self.bias


def train(net, opt, data, accum):
    for i, (x, y) in enumerate(data):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    for i, (x, y) in enumerate(data):
        loss = net(x).mean() / accum
        loss.backward()
        if (i + 1) % accum == 0:
            opt.step()
            opt.zero_grad()
'''

TF = '''import tensorflow as tf


class Block(tf.keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = tf.keras.layers.Dense(4)

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], 4), initializer="zeros")

    def call(self, x):
        h = self.dense(x)
        return h + x @ self.w


def step(model, x, y, opt):
    with tf.GradientTape() as tape:
        pred = model(x)
        loss = tf.reduce_mean((pred - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
'''

JAX = '''import jax
import jax.numpy as jnp


def loss_fn(params, x, y):
    pred = jnp.dot(x, params["w"])
    return jnp.mean((pred - y) ** 2)


grads = jax.grad(loss_fn)(params, x, y)
'''

# operator -> (source, number of sites)
CASES = {
    "param-unwrap": (TORCH, 2),
    "param-to-device": (TORCH, 2),
    "modulelist-to-list": (TORCH, 1),
    "forward-detach": (TORCH, 1),  # `return self.out(z) * ...` is not a bare layer call
    "forward-no-grad": (TORCH, 1),  # `return self.out(z) * ...` is not a bare layer call
    "forward-data": (TORCH, 1),  # `return self.out(z) * ...` is not a bare layer call
    "loss-item-rewrap": (TORCH, 2),
    "rsample-to-sample": (TORCH, 1),
    "zero-grad-between": (TORCH, 1),
    "zero-grad-every-micro-batch": (TORCH, 2),
    "add-weight-to-variable": (TF, 1),
    "call-stop-gradient": (TF, 1),
    "numpy-in-tape": (TF, 2),
    "jax-stop-gradient-prediction": (JAX, 1),
    "jax-item-traced": (JAX, 1),
}


def test_every_operator_is_tested():
    assert set(CASES) == set(mutate.OPERATOR_NAMES) == set(mutate.TRIGGERS)


def _changed(old: str, new: str):
    a, b = old.splitlines(), new.splitlines()
    return [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]


@pytest.mark.parametrize("operator", sorted(CASES))
def test_operator_makes_valid_one_site_mutants(operator):
    source, sites = CASES[operator]
    mutants = mutate.mutants(source, operator)
    assert len(mutants) == sites
    assert len(set(mutants)) == sites  # each mutant is a different site
    for new in mutants:
        ast.parse(new)
        assert new != source
        changes = _changed(source, new)
        same_lines = sorted(x.strip() for x in new.splitlines()) == sorted(x.strip() for x in source.splitlines())
        if operator.startswith("zero-grad") and same_lines:
            # a move: one line taken out and put back elsewhere
            assert sorted(op[0] for op in changes) in (["delete", "insert"], ["replace"])
        else:
            assert len(changes) == 1, changes  # one contiguous region


def test_operators_rewrite_what_they_say():
    def one(operator, source=TORCH):
        (new,) = [m for m in mutate.mutants(source, operator)][:1]
        return new

    assert "self.scale = torch.ones(1, requires_grad=True)" in one("param-unwrap")
    assert "self.bias = (torch.zeros(1) + 0.5).requires_grad_()" in mutate.mutants(TORCH, "param-unwrap")[1]
    assert "self.scale = nn.Parameter(torch.ones(1)).to(device)" in one("param-to-device")
    assert "self.blocks = [nn.Linear(4, 4) for _ in range(2)]" in one("modulelist-to-list")
    assert "h = self.fc(x).detach()" in one("forward-detach")
    assert "with torch.no_grad():\n            h = self.fc(x)" in one("forward-no-grad")
    assert "h = self.fc(x).data" in one("forward-data")
    assert "loss = torch.tensor(((net(x) - y) ** 2).mean().item())" in one("loss-item-rewrap")
    assert "z = dist.sample()" in one("rsample-to-sample")
    assert "loss.backward()\n        opt.zero_grad()\n        opt.step()" in one("zero-grad-between")
    micro = mutate.mutants(TORCH, "zero-grad-every-micro-batch")
    assert any("opt.zero_grad()\n        loss.backward()\n        if (i + 1) % accum == 0:\n            opt.step()\n" in m for m in micro)
    assert any("if (i + 1) % 4 == 0:\n            opt.step()" in m for m in micro)
    assert "self.w = tf.Variable(tf.zeros((shape[-1], 4)))" in one("add-weight-to-variable", TF)
    assert "h = tf.stop_gradient(self.dense(x))" in one("call-stop-gradient", TF)
    assert {"loss = tf.reduce_mean((pred - y) ** 2).numpy()", "pred = model(x).numpy()"} == {
        next(line.strip() for line in m.splitlines() if ".numpy()" in line) for m in mutate.mutants(TF, "numpy-in-tape")}
    assert 'pred = jax.lax.stop_gradient(jnp.dot(x, params["w"]))' in one("jax-stop-gradient-prediction", JAX)
    assert 'pred = jnp.dot(x, params["w"]).item()' in one("jax-item-traced", JAX)


def test_no_site_where_the_mutant_would_not_be_a_bug():
    # a frozen parameter, a zero_grad of another optimizer, a legacy-Keras file
    assert not any("self.frozen = torch" in m for m in mutate.mutants(TORCH, "param-unwrap"))
    other = "def f(loss, optG, optD):\n    optD.zero_grad()\n    loss.backward()\n    optG.step()\n"
    assert mutate.mutants(other, "zero-grad-between") == []
    assert mutate.mutants("import tf_keras\n" + TF, "add-weight-to-variable") == []


def test_catch_span_covers_the_statement_holding_the_site():
    old = "x = 1\ny = f(a,\n      b.rsample())\n"
    new = "x = 1\ny = f(a,\n      b.sample())\n"
    span, to_old = mutate.catch_span(old, new, {3})
    assert span == {2, 3}
    assert to_old[1] == 1


def test_quick_run_on_the_fixtures_prints_the_table(capsys):
    # the command docs/evaluation.md shows for a quick run (the fixtures need no download)
    assert mutate.main(["--sources", "fixtures", "--limit", "2", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| family | operator | sites | caught | recall |")
    assert "| GS6 | zero-grad-between | 2 |" in out


def test_project_mode_checks_fixtures_alone(capsys):
    # `--project` gives each package's mutants its project index; fixtures have none
    assert mutate.main(["--sources", "fixtures", "--operators", "zero-grad-between", "--limit", "2", "--seed", "0",
                        "--project"]) == 0
    assert "| GS6 | zero-grad-between | 2 |" in capsys.readouterr().out
