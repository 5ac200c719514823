"""gradscan/semantics/tf_training.py: what a TensorFlow step trains, asked of the code, not
of names."""
from __future__ import annotations

import textwrap

import libcst as cst

from gradscan.semantics import tf_training
from gradscan.semantics.model import FileModel


def build(src: str) -> FileModel:
    src = textwrap.dedent(src)
    return FileModel.build(cst.parse_module(src), "m.py", src)


def gradient_calls(model: FileModel):
    return [(c, fn) for c, fn in model.calls if tf_training.gradient_sources(c) is not None]


STEP = """
    import tensorflow as tf
    from tensorflow import keras

    def make():
        return keras.Sequential([keras.layers.Dense(2)])

    online = make()
    copy = make()
    part = make()
    whole = keras.Sequential([part, keras.layers.Dense(1)])
    both = online.trainable_variables + whole.trainable_variables
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(online(x)) + tf.reduce_sum(whole(x))
    grads = tape.gradient(loss, both)
    copy.set_weights(online.get_weights())
"""


def test_owners_follow_sums_and_names():
    m = build(STEP)
    [(call, _fn)] = gradient_calls(m)
    assert tf_training.differentiated_owners(m, call) == {"online", "whole"}


def test_a_network_is_trained_directly_or_as_a_part_and_a_copy_is_not():
    m = build(STEP)
    [(call, fn)] = gradient_calls(m)
    assert tf_training.network_trained(m, call, "online", fn) is True
    assert tf_training.network_trained(m, call, "part", fn) is True
    assert tf_training.network_trained(m, call, "copy", fn) is False
    assert tf_training.synced_or_frozen(m, "copy")
    assert not tf_training.synced_or_frozen(m, "online")


def test_unresolved_sources_and_parameters_are_unknown():
    m = build("""
        import tensorflow as tf

        def step(net, other, variables, x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(net(x))
            a = tape.gradient(loss, variables)
            b = tape.gradient(loss, net.trainable_variables)
    """)
    (first, fn), (second, _) = gradient_calls(m)
    assert tf_training.differentiated_owners(m, first) is None
    assert tf_training.network_trained(m, first, "other", fn) is None
    assert tf_training.network_trained(m, second, "other", fn) is None
    assert tf_training.network_trained(m, second, "net", fn) is True


def test_a_class_is_trained_through_the_model_holding_it():
    m = build("""
        import tensorflow as tf
        from tensorflow import keras

        class Inner(keras.layers.Layer):
            def call(self, x):
                return x

        class Outer(keras.Model):
            def __init__(self):
                super().__init__()
                self.inner = Inner()

        class Averaged(keras.Model):
            def call(self, x):
                return x

        outer = Outer()
        avg = Averaged()
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(outer(x))
        grads = tape.gradient(loss, outer.trainable_variables)
        for a, b in zip(avg.variables, outer.variables):
            a.assign(0.9 * a + 0.1 * b)
    """)
    assert tf_training.class_trained(m, m.classes["Inner"]) is True
    assert tf_training.class_trained(m, m.classes["Averaged"]) is False


def test_a_functional_model_is_built_from_the_layers_it_calls():
    m = build("""
        import tensorflow as tf
        from tensorflow import keras

        enc = keras.layers.Dense(4)
        other = keras.layers.Dense(4)
        inp = keras.Input((3,))
        out = keras.layers.Dense(1)(enc(inp))
        net = keras.Model(inp, out)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(net(x))
        grads = tape.gradient(loss, net.trainable_variables)
    """)
    [(call, fn)] = gradient_calls(m)
    assert tf_training.network_trained(m, call, "enc", fn) is True
    assert tf_training.network_trained(m, call, "other", fn) is False
