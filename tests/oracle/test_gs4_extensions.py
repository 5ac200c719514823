"""Oracle proofs for what the GS4xx rules flag beyond the FACTS rows they cite.

FACTS tf28-tf38 cover `.numpy()`, `np.*`, `numpy_function`, `stop_gradient`, `tf.round`... with
`tf.*` spellings. The rules also flag `model.predict(...)` and `keras.backend` conversions inside
a tape (GS404), a computed `tape.gradient` target outside the block (GS405), the `keras.ops`
spellings of the non-differentiable ops and of `stop_gradient` (GS406, GS407), and
`keras.Variable` created in `call()` (GS402). Each test runs the flagged shape under the real
framework and asserts the effect the rule's message states, and checks gradscan flags it.
"""
from __future__ import annotations

import os
import textwrap

import pytest

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def tf():
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return pytest.importorskip("tensorflow", reason="the GS4xx oracle proofs need TensorFlow")


def _run(src: str) -> dict:
    ns: dict = {"__name__": "gs4_oracle"}
    exec(compile(textwrap.dedent(src), "<gs4 oracle>", "exec"), ns)
    return ns


def _flags(src: str, code: str) -> list:
    from gradscan import check_source

    src = textwrap.dedent(src)
    return [f.line for f in check_source(src, path="proof.py", select=[code]) if f.code == code]


PREDICT = """
import numpy as np
import tensorflow as tf

tf.keras.utils.set_random_seed(0)
model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
x, y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
with tf.GradientTape() as tape:
    pred = model.predict(x, verbose=0)
    loss = tf.reduce_mean((pred - y) ** 2)
grads = tape.gradient(loss, model.trainable_variables)
"""


def test_predict_in_tape_gives_no_gradient(tf):
    ns = _run(PREDICT)
    assert isinstance(ns["pred"], __import__("numpy").ndarray), "predict returns a NumPy array"
    assert all(g is None for g in ns["grads"]), f"no gradient through predict: {ns['grads']}"
    assert _flags(PREDICT, "GS404") == [9]


KERAS_EVAL = """
import tensorflow as tf
import keras

v = tf.Variable([1.0, 2.0])
with tf.GradientTape() as tape:
    h = keras.ops.convert_to_numpy(v * 3.0)
    loss = tf.reduce_sum(h * h)
grad = tape.gradient(loss, v)
"""


def test_keras_convert_to_numpy_in_tape_gives_no_gradient(tf):
    ns = _run(KERAS_EVAL)
    assert ns["grad"] is None
    assert _flags(KERAS_EVAL, "GS404") == [7]


TARGET_OUTSIDE = """
import tensorflow as tf

v = tf.Variable([1.0, 2.0])
with tf.GradientTape() as tape:
    err = v * 3.0
grad = tape.gradient(tf.reduce_sum(err ** 2), v)
"""


def test_computed_target_after_the_block_gives_no_gradient(tf):
    ns = _run(TARGET_OUTSIDE)
    assert ns["grad"] is None
    assert _flags(TARGET_OUTSIDE, "GS405") == [7]


KERAS_OPS = """
import tensorflow as tf
import keras

v = tf.Variable([0.3, -1.2, 2.5])
with tf.GradientTape(persistent=True) as tape:
    r = keras.ops.round(v * 2.0)
    a = keras.ops.cast(keras.ops.argmax(v * 2.0), "float32")
    s = keras.ops.stop_gradient(v * 2.0)
    c = keras.ops.cast(v * 2.0 > 0, "float32")
    loss_r = tf.reduce_sum(r * r)
    loss_a = a * 1.0
    loss_s = tf.reduce_sum(s * s)
    loss_c = tf.reduce_sum(c)
g_round = tape.gradient(loss_r, v)
g_argmax = tape.gradient(loss_a, v)
g_stop = tape.gradient(loss_s, v)
g_cmp = tape.gradient(loss_c, v)
"""


def test_keras_ops_spellings_give_no_gradient(tf):
    ns = _run(KERAS_OPS)
    grads = {k: ns[k] for k in ("g_round", "g_argmax", "g_stop", "g_cmp")}
    assert all(g is None for g in grads.values()), grads
    assert _flags(KERAS_OPS, "GS407") == [7, 8, 10]
    assert _flags(KERAS_OPS, "GS406") == [9]


CALL_VARIABLE = """
import numpy as np
import keras


class Scale(keras.layers.Layer):
    def call(self, x):
        self.w = keras.Variable(np.ones(3, "float32"))
        return x * self.w


layer = Scale()
layer(np.ones((2, 3), "float32"))
first = layer.w
layer(np.ones((2, 3), "float32"))
"""


def test_keras_variable_in_call(tf):
    try:
        ns = _run(CALL_VARIABLE)
    except ValueError as exc:  # Keras 3 locks the layer's state after build
        assert "state" in str(exc) or "variable" in str(exc).lower()
    else:
        assert ns["layer"].w is not ns["first"], "a new variable on every call"
    assert _flags(CALL_VARIABLE, "GS402") == [8]


VARIABLE_CONTAINERS = """
import tensorflow as tf
import keras


class Heads(keras.layers.Layer):
    def __init__(self, n):
        super().__init__()
        self.offsets = [tf.Variable(0.0) for _ in range(n)]
        self.scales = {"a": tf.Variable(1.0)}
        self.extra = []
        self.extra.append(tf.Variable(2.0))
        self.tracked = [keras.Variable(3.0)]


layer = Heads(2)
names = sorted(float(v.numpy()) for v in layer.trainable_variables)
"""


def test_raw_variables_in_containers_are_not_tracked(tf):
    """GS401 (fact tf40) on containers: a Keras 3 layer tracks a list of its own variables but
    no raw tf.Variable in a list, dict, comprehension or appended list."""
    ns = _run(VARIABLE_CONTAINERS)
    assert ns["names"] == [3.0], f"only the keras.Variable is tracked: {ns['names']}"
    assert _flags(VARIABLE_CONTAINERS, "GS401") == [9, 10, 12]


FREEZE_HELPER = """
import numpy as np
import tf_keras as keras


def make_trainable(net, flag):
    net.trainable = flag
    for layer in net.layers:
        layer.trainable = flag


keras.utils.set_random_seed(0)
disc = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
disc.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
x = np.random.rand(16, 3).astype("float32")
labels = np.random.randint(0, 2, (16, 1)).astype("float32")
disc.train_on_batch(x, labels)
make_trainable(disc, False)
kernel = disc.layers[0].kernel.numpy().copy()
disc.train_on_batch(x, labels)
after = disc.layers[0].kernel.numpy()
"""


def test_freeze_through_a_helper_without_recompile_still_trains(tf):
    """GS409 (fact tf43) through a helper: tf_keras keeps training the model a helper froze
    after compile() and a first train_on_batch()."""
    pytest.importorskip("tf_keras", reason="this proof needs tf_keras")
    import numpy as np

    ns = _run(FREEZE_HELPER)
    assert not np.allclose(ns["kernel"], ns["after"]), "the frozen model still trains"
    assert _flags(FREEZE_HELPER, "GS409") == [18]


COMPILE_NUMPY = """
import numpy as np
import keras


def mape(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred) / np.maximum(np.abs(y_true), 1e-3))


as_loss = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
as_loss.compile(optimizer="sgd", loss=mape)
as_metric = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
as_metric.compile(optimizer="sgd", loss="mse", metrics=[mape])
eager_metric = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
eager_metric.compile(optimizer="sgd", loss="mse", metrics=[mape], run_eagerly=True)
eager_loss = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
eager_loss.compile(optimizer="sgd", loss=mape, run_eagerly=True)
x = np.random.rand(16, 4).astype("float32")
y = np.random.rand(16, 1).astype("float32") + 1.0
"""


def test_numpy_function_given_to_compile_fails_under_fit(tf):
    """GS404 (fact tf48): a NumPy loss or metric given to compile() sees symbolic tensors under
    fit() and raises; a NumPy metric with run_eagerly=True runs, a NumPy loss run eagerly gives
    no gradient."""
    ns = _run(COMPILE_NUMPY)
    for name in ("as_loss", "as_metric"):
        with pytest.raises(NotImplementedError, match="numpy"):
            ns[name].fit(ns["x"], ns["y"], epochs=1, verbose=0)
    ns["eager_metric"].fit(ns["x"], ns["y"], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="No gradients"):
        ns["eager_loss"].fit(ns["x"], ns["y"], epochs=1, verbose=0)
    assert _flags(COMPILE_NUMPY, "GS404") == [7]


ZIP_OTHER = """
import numpy as np
import tensorflow as tf
from tensorflow import keras

def make():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

online, target = make(), make()
optimizer = keras.optimizers.SGD(0.1)
x = tf.ones([4, 3])
before_online = [w.copy() for w in online.get_weights()]
before_target = [w.copy() for w in target.get_weights()]
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(online(x) - 1.0))
grads = tape.gradient(loss, online.trainable_variables)
optimizer.apply_gradients(zip(grads, target.trainable_variables))
"""


def test_gradients_zipped_with_another_models_variables(tf):
    """GS411 (fact tf50): gradients taken for one model and zipped with another same-shape
    model's variables move the other model and leave the first unchanged, silently."""
    ns = _run(ZIP_OTHER)
    np = ns["np"]
    assert all(np.array_equal(b, a) for b, a in zip(ns["before_online"], ns["online"].get_weights()))
    assert any(not np.array_equal(b, a) for b, a in zip(ns["before_target"], ns["target"].get_weights()))
    assert _flags(ZIP_OTHER, "GS411") == [17]
