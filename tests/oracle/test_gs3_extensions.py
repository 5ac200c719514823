"""Oracle proofs for what the GS3xx rules flag beyond the FACTS rows their examples prove.

Each test runs the flagged shape under the real framework, asserts the effect the rule's
message states, and checks gradscan flags it (and not the look-alike).
"""
from __future__ import annotations

import os
import textwrap

import pytest

pytestmark = pytest.mark.oracle


def _flags(src: str, code: str) -> list:
    from gradscan import check_source

    return [f.line for f in check_source(textwrap.dedent(src), path="proof.py", select=[code]) if f.code == code]


LAYERS = """
import tensorflow as tf
import tf_keras as keras
import tensorflow_probability as tfp

tfd = tfp.distributions
tfpl = tfp.layers


def build(convert):
    x = keras.Input(shape=(4,))
    h = keras.layers.Dense(3, name="before")(x)
    if convert is None:
        c = tfpl.DistributionLambda(lambda t: tfd.OneHotCategorical(logits=t, dtype=tf.float32))(h)
    else:
        c = tfpl.DistributionLambda(lambda t: tfd.OneHotCategorical(logits=t, dtype=tf.float32),
                                    convert_to_tensor_fn=convert)(h)
    return keras.Model(x, keras.layers.Dense(1)(c))
"""


def test_discrete_distribution_layer_cuts_the_layers_before_it():
    """FACTS tf71: a discrete DistributionLambda hands the next layer a sample (its default
    convert_to_tensor_fn) or a mode: the layer before it gets no gradient; `mean` passes one."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    tf = pytest.importorskip("tensorflow")
    tfp = pytest.importorskip("tensorflow_probability")
    pytest.importorskip("tf_keras")
    ns: dict = {"__name__": "gs3_oracle"}
    exec(compile(LAYERS, "<gs3 oracle>", "exec"), ns)
    x = tf.random.normal((8, 4), seed=0)

    def grad_before(convert):
        model = ns["build"](convert)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - 1.0))
        before = model.get_layer("before")
        return tape.gradient(loss, before.trainable_variables)[0]

    tfd = tfp.distributions
    assert grad_before(None) is None
    assert grad_before(lambda d: d.mode()) is None
    g = grad_before(tfd.Distribution.mean)
    assert g is not None and bool(tf.reduce_any(g != 0))
    flagged = _flags(LAYERS, "GS303")
    assert flagged == [14], flagged
