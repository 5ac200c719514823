"""gradscan/semantics/sources.py and facts.py: one question ("does this value carry gradient from what is
trained?") asked through `model.sources`, answered per framework from the frameworks tables."""
from __future__ import annotations

import textwrap

import libcst as cst

from gradscan.semantics.model import FileModel
from gradscan.semantics.facts import JaxSources, TensorFlowSources


def build(src: str) -> FileModel:
    src = textwrap.dedent(src)
    return FileModel.build(cst.parse_module(src), "m.py", src)


def value_of(model: FileModel, name: str):
    """The value assigned to `name` (its only assignment)."""
    for node, _fn in model.assignments:
        if isinstance(node, cst.Assign) and any(getattr(t.target, "value", None) == name for t in node.targets):
            return node.value
    raise AssertionError(name)


def test_torch_a_submodule_output_carries_an_input_does_not():
    m = build("""
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)

            def forward(self, x):
                h = self.fc(x)
                raw = x * 2
                return h + raw
    """)
    assert m.sources.carries(value_of(m, "h"))
    assert not m.sources.carries(value_of(m, "raw"))
    assert m.sources.walk is m.sources.walk  # built once per file


def test_keras_layer_input_carries_model_input_does_not():
    m = build("""
        import keras

        class Block(keras.layers.Layer):
            def call(self, inputs):
                y = inputs * 2
                return y

        class Unused(keras.layers.Layer):
            def call(self, inputs):
                u = inputs * 2
                return u

        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(2)
                self.block = Block()

            def call(self, x):
                z = x * 2
                return self.block(self.dense(z))
    """)
    assert not m.sources.carries(value_of(m, "u"))  # nobody calls it on a graph value
    assert m.sources.carries(value_of(m, "y"))
    assert not m.sources.carries(value_of(m, "z"))
    assert m.sources.tensorflow is m.get(TensorFlowSources)


def test_jax_only_the_argnums_arguments_are_traced():
    m = build("""
        import jax
        import jax.numpy as jnp

        def loss(params, x, y):
            a = params * 2
            b = x * 2
            c = y * 2
            return jnp.sum(a + b + c)

        g = jax.grad(loss, argnums=(0, 2))
    """)
    assert m.sources.carries(value_of(m, "a"))
    assert not m.sources.carries(value_of(m, "b"))
    assert m.sources.carries(value_of(m, "c"))
    assert len(m.get(JaxSources).targets) == 1


def test_jax_default_argnums_is_the_first_argument():
    m = build("""
        import jax

        @jax.grad
        def loss(params, x):
            a = params.sum()
            b = x.sum()
            return a + b
    """)
    assert m.sources.carries(value_of(m, "a"))
    assert not m.sources.carries(value_of(m, "b"))


def _differentiated(src: str) -> dict:
    from gradscan.semantics.facts import differentiated_params

    m = build(src)
    return {t.fn.name: (differentiated_params(t), t.every_primal) for t in m.get(JaxSources).targets.values()}


def test_jax_jacobians_and_hessian_differentiate_argnums():
    got = _differentiated("""
        from functools import partial
        import jax

        def f(a, b, c):
            return a * b * c

        def g(a, b):
            return a * b

        def h(a, b):
            return a + b

        @partial(jax.jacfwd, argnums=(0, 1))
        def k(a, b):
            return a * b

        j1 = jax.jacrev(f)
        j2 = jax.hessian(g, 1)
        j3 = jax.jacfwd(h, argnums=(0, 1))
    """)
    assert got == {"f": ({"a"}, False), "g": ({"b"}, False), "h": ({"a", "b"}, False), "k": ({"a", "b"}, False)}


def test_jax_primal_transforms_differentiate_every_primal_passed():
    got = _differentiated("""
        import jax
        from jax.test_util import check_grads

        def f(a, b, c):
            return a * b * c

        def g(a, b, c=1.0):
            return a * b * c

        def h(a, b):
            return a + b

        def k(a, b):
            return a - b

        def n(a, b):
            return a / b

        out, back = jax.vjp(f, x, y, z)
        y2, t2 = jax.jvp(g, (x, y), (tx, ty))
        check_grads(h, args, order=2)
        lo, lin = jax.linearize(k, *xs)
        y3, back3 = jax.vjp(n, x, has_aux=False)
    """)
    assert got == {"f": ({"a", "b", "c"}, True), "g": ({"a", "b"}, True), "h": ({"a", "b"}, True),
                   "k": ({"a", "b"}, True), "n": ({"a"}, True)}



def test_a_submodule_output_is_a_value_not_a_module():
    """`scores = self.class_embed(q)` calls a registered submodule: `scores` holds its output,
    not a network built by a factory named like a layer (`create_conv2d(...)`), so
    `scores.max(-1)` is a tensor method, not a call of a module with weights of its own."""
    m = build("""
        import torch.nn as nn

        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.class_embed = nn.Linear(4, 3)

            def forward(self, q):
                scores = self.class_embed(q)
                best = scores.max(-1)[0]
                return best
    """)
    roots = m.sources.walk.roots(value_of(m, "best"))
    assert "weight:self.class_embed" in roots
    assert not any(r.startswith(("module:", "weight:module:")) for r in roots)


def test_tensorflow_a_keras_loss_object_carries_only_its_inputs():
    """tf56: a Keras loss object holds no weights; its value on data carries nothing, on the
    model's prediction the model's weights."""
    m = build("""
        import tensorflow as tf
        from tensorflow import keras

        model = keras.Sequential([keras.layers.Dense(1)])
        loss_fn = keras.losses.MeanSquaredError()

        def step(x, y, prior):
            with tf.GradientTape() as tape:
                reg = loss_fn(prior, tf.zeros_like(prior))
                fit = loss_fn(y, model(x))
                total = fit + reg
            return tape.gradient(total, model.trainable_variables)
    """)
    assert not m.sources.carries(value_of(m, "reg"))
    assert m.sources.carries(value_of(m, "fit"))
