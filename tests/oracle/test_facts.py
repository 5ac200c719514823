"""docs/facts.md is the project's own ground truth: checked here against the rules, the oracle
tests that prove each fact, and the frameworks installed; and the facts no rule example shows
on its own are proved here, each test naming its fact id.
"""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import warnings

import pytest

from gradscan.rules import all_rules

from . import cases_jax, cases_training  # noqa: F401  (their cases register into CASES)
from .cases import CASES
from .facts import FACTS_DOC, ROOT, installed, parse, with_installed_versions

pytestmark = pytest.mark.oracle

CITED = {fact: [r.code for r in all_rules() if fact in r.facts] for r in all_rules() for fact in r.facts}
REWRITE = "run `python -m tests.oracle.facts` after the oracle tier passes"


def _facts():
    return parse(FACTS_DOC.read_text(encoding="utf-8"))


def test_every_cited_fact_has_a_row_and_every_row_is_cited():
    facts = _facts()
    missing = sorted(set(CITED) - set(facts))
    assert not missing, f"rules cite facts docs/facts.md lacks: {missing}"
    uncited = sorted(set(facts) - set(CITED))
    assert not uncited, f"docs/facts.md rows no rule cites: {uncited}"


def _proof_mentions(node: str, fact: str) -> bool:
    """The node id names a collected oracle test tied to `fact`: the BAD example of a rule that
    cites the fact, or a test function whose docstring names it."""
    m = re.fullmatch(r"tests/oracle/(?P<module>\w+)\.py::(?P<func>\w+)(?:\[(?P<param>[^\]]+)\])?", node)
    assert m, f"not a pytest node id under tests/oracle/: {node}"
    module = importlib.import_module(f"tests.oracle.{m['module']}")
    func = getattr(module, m["func"], None)
    assert callable(func) and m["func"].startswith("test_"), f"{node}: no such test"
    if m["param"] is not None:
        assert m["func"] == "test_bad_shows_effect" and m["param"] in CASES, f"{node}: no such oracle case"
        return CASES[m["param"]].code in CITED[fact]  # a case key such as GS502-ones names its rule by .code
    return re.search(rf"\b{fact}\b", func.__doc__ or "") is not None


def test_every_fact_is_proved_by_an_oracle_test():
    for fact in _facts().values():
        assert fact.proofs, f"{fact.id} has no oracle test in docs/facts.md"
        for node in fact.proofs:
            assert _proof_mentions(node, fact.id), f"{fact.id}: {node} is not tied to it"


def test_recorded_versions_are_the_installed_ones():
    facts = _facts()
    needed = {dist for fact in facts.values() for dist, _ in fact.observed}
    absent = sorted(d for d in needed if installed(d) is None)
    if absent:
        pytest.skip(f"cannot compare the versions in docs/facts.md: {', '.join(absent)} not installed")
    text = FACTS_DOC.read_text(encoding="utf-8")
    stale = [f"{f.id}: {d} {v} (installed {installed(d)})" for f in facts.values() for d, v in f.observed
             if installed(d) != v]
    assert with_installed_versions(text) == text and not stale, f"docs/facts.md versions are stale: {stale}; {REWRITE}"
    # The command the file shows leaves a current file as it is.
    run = subprocess.run([sys.executable, "-m", "tests.oracle.facts"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert FACTS_DOC.read_text(encoding="utf-8") == text


# ------------------------------------------------------------------ PyTorch facts

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="these facts need torch")


def _grad(t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return t.grad


def test_pt14_python_numbers_cut_the_graph(torch):
    """pt14: `.item()`, `.tolist()` and `float(t)` give Python numbers (float(t) warns), `.numpy()`
    raises, `.detach().numpy()` cuts silently; logging `loss.item()` before backward is fine."""
    w = torch.ones(3, requires_grad=True)
    t = (w * 2).sum()
    assert isinstance(t.item(), float) and isinstance((w * 2).tolist(), list)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(t)
    assert isinstance(value, float)
    assert any("Converting a tensor with requires_grad=True to a scalar" in str(c.message) for c in caught)
    rebuilt = torch.tensor(t.item()) * w.detach()
    assert not rebuilt.requires_grad
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        (w * 2).numpy()
    assert torch.from_numpy((w * 2).detach().numpy()).grad_fn is None
    loss = (w * 3).sum()
    _ = loss.item()
    loss.backward()
    assert torch.equal(w.grad, torch.full((3,), 3.0))


def test_pt15_rebound_model_keeps_the_old_optimizer(torch):
    """pt15: `net = make_net()` again after `opt = Adam(net.parameters())` (a new model per
    fold): the optimizer still holds the first model's parameters; the new one gets `.grad` and
    is never updated, silently."""
    nn = torch.nn
    torch.manual_seed(0)
    x, y = torch.randn(12, 3), torch.randn(12, 1)
    net = nn.Linear(3, 1)
    first = net
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _fold in range(2):
        net = nn.Linear(3, 1)
        start = net.weight.detach().clone()
        for _ in range(3):
            opt.zero_grad()
            ((net(x) - y) ** 2).mean().backward()
            opt.step()
        assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0
        assert torch.equal(start, net.weight.detach()), "the optimizer never steps the new model"
        assert not any(p is net.weight for g in opt.param_groups for p in g["params"])
    assert all(p is q for p, q in zip(opt.param_groups[0]["params"], first.parameters()))


def test_pt20_clone_and_detach_in_either_order(torch):
    """pt20: `x.clone().detach()` and `x.detach().clone()` are the same: no grad, no grad_fn,
    equal values, independent copies."""
    x = torch.randn(4, requires_grad=True) * 2
    a, b = x.clone().detach(), x.detach().clone()
    for copy in (a, b):
        assert not copy.requires_grad and copy.grad_fn is None and torch.equal(copy, x.detach())
    a[0] += 1
    assert not torch.equal(a, b) and torch.equal(b, x.detach())


def test_pt21_new_tensor_copies_without_the_graph(torch):
    """pt21: `h.new_tensor(h)` has no graph (upstream grad None, copy-construct UserWarning);
    `h.new_zeros(...)` as a constant is fine."""
    lin = torch.nn.Linear(3, 3)
    h = lin(torch.randn(2, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        copy = h.new_tensor(h)
    assert not copy.requires_grad
    assert any("To copy construct from a tensor" in str(c.message) for c in caught)
    other = torch.ones(1, requires_grad=True)
    (copy.sum() + other.sum()).backward()  # no error: the loss still has a graph, through `other`
    assert _grad(lin.weight) is None and other.grad is not None
    lin.zero_grad(set_to_none=True)
    out = lin(torch.randn(2, 3))
    (out + out.new_zeros(out.shape)).sum().backward()
    assert _grad(lin.weight) is not None and bool((lin.weight.grad != 0).any())


def test_pt22_no_grad_decorated_forward(torch):
    """pt22: `@torch.no_grad()` on forward: the output has no grad; backward raises `element 0
    of tensors does not require grad`; mixed into a loss with another term, weight.grad is None."""
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)

        @torch.no_grad()
        def forward(self, x):
            return self.fc(x)

    net, x = Net(), torch.randn(4, 3)
    out = net(x)
    assert not out.requires_grad
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        out.sum().backward()
    other = torch.ones(1, requires_grad=True)
    (net(x).sum() + other.sum()).backward()
    assert _grad(net.fc.weight) is None and other.grad is not None


def test_pt23_inference_mode(torch):
    """pt23: a forward under `torch.inference_mode()` cannot be backpropagated (`element 0`), and
    an inference tensor used in training raises `Inference tensors cannot be saved for backward`."""
    lin = torch.nn.Linear(3, 1)
    with torch.inference_mode():
        out = lin(torch.randn(2, 3))
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        out.sum().backward()
    with torch.inference_mode():
        features = torch.randn(2, 3) * 2
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        lin(features).sum().backward()


def test_pt33_set_grad_enabled_false(torch):
    """pt33: a `torch.set_grad_enabled(False)` block cuts like no_grad (l1.weight.grad None); a
    bare `torch.set_grad_enabled(False)` call leaks: later outputs do not require grad."""
    l1, l2 = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    x = torch.randn(2, 3)
    with torch.set_grad_enabled(False):
        h = l1(x)
    l2(h).sum().backward()
    assert _grad(l1.weight) is None and l2.weight.grad is not None
    try:
        torch.set_grad_enabled(False)
        later = l2(x)
        assert not later.requires_grad
    finally:
        torch.set_grad_enabled(True)


def test_pt35_sampling_ops(torch):
    """pt35: `torch.bernoulli(p)` has a grad_fn but gives p zero gradients; multinomial and
    one_hot(argmax) are integers without grad; `F.gumbel_softmax(hard=True)` lets gradients flow."""
    F = torch.nn.functional
    torch.manual_seed(0)
    p = torch.full((64,), 0.5, requires_grad=True)
    draw = torch.bernoulli(p)
    assert type(draw.grad_fn).__name__ == "BernoulliBackward0"
    (draw * torch.arange(64.0)).sum().backward()
    assert p.grad is not None and bool((p.grad == 0).all())
    logits = torch.randn(2, 5, requires_grad=True)
    picked = torch.multinomial(logits.softmax(-1), 1)
    onehot = F.one_hot(logits.argmax(-1), 5)
    for t in (picked, onehot):
        assert t.dtype == torch.int64 and not t.requires_grad
    (F.gumbel_softmax(logits, hard=True) * torch.arange(5.0)).sum().backward()
    assert logits.grad is not None and bool((logits.grad != 0).any())


# ------------------------------------------------------------------ TensorFlow / Keras facts

@pytest.fixture(scope="module")
def tf():
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return pytest.importorskip("tensorflow", reason="these facts need TensorFlow")


def test_tf29_py_function(tf):
    """tf29: `tf.py_function` is differentiable when its body uses TF ops (eager and in
    tf.function); a body that goes through `.numpy()`/NumPy gives zero gradients, not None."""
    import numpy as np

    v = tf.Variable([1.0, 2.0, 3.0])

    def tf_body(t):
        return t * t

    def np_body(t):
        return tf.constant(np.square(t.numpy()))

    def grad(body):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.py_function(body, [v * 1.0], tf.float32))
        return tape.gradient(y, v)

    assert np.allclose(grad(tf_body).numpy(), [2.0, 4.0, 6.0])
    assert np.allclose(tf.function(lambda: grad(tf_body))().numpy(), [2.0, 4.0, 6.0])
    g = grad(np_body)
    assert g is not None and np.allclose(g.numpy(), 0.0)


def test_tf31_numpy_on_tensors_in_the_tape(tf):
    """tf31: `np.square(t)` inside the tape returns an ndarray and the gradient is None (eager,
    silent); under tf.function it raises `Cannot convert a symbolic tf.Tensor`;
    `tf.experimental.numpy.square` lets the gradient flow."""
    import numpy as np

    v = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = np.square(v * 1.0)
        assert isinstance(y, np.ndarray)
        loss = tf.reduce_sum(tf.constant(y))
    assert tape.gradient(loss, v) is None

    @tf.function
    def traced():
        return np.square(v * 1.0)

    with pytest.raises(NotImplementedError, match="Cannot convert a symbolic tf.Tensor"):
        traced()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.experimental.numpy.square(v * 1.0))
    assert np.allclose(tape.gradient(loss, v).numpy(), [2.0, 4.0, 6.0])


def test_tf44_tf_random_parameters_get_gradients(tf):
    """tf44: unlike torch.normal (pt10), `tf.random.normal(mean=v, stddev=s)`,
    `tf.random.uniform(maxval=v)` and `keras.random.normal(mean=v)` give their parameters gradients."""
    import keras
    import numpy as np

    mean, std, high = tf.Variable(1.0), tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        a = tf.reduce_sum(tf.random.normal([16], mean=mean, stddev=std, seed=1))
        b = tf.reduce_sum(tf.random.uniform([16], maxval=high, seed=2))
        c = tf.reduce_sum(keras.random.normal([16], mean=mean, seed=3))
    for target, source in ((a, mean), (a, std), (b, high), (c, mean)):
        g = tape.gradient(target, source)
        assert g is not None and not np.isclose(g.numpy(), 0.0)


def test_tf45_which_keras_tf_keras_is(tf):
    """tf45: `tf.keras` is Keras 3 by default (`tf.keras.Model is keras.Model`); with
    TF_USE_LEGACY_KERAS=1 it is tf_keras."""
    import keras

    assert tf.keras.Model is keras.Model
    pytest.importorskip("tf_keras", reason="the legacy half of tf45 needs tf_keras")
    probe = "import tensorflow as tf, tf_keras; print(tf.keras.Model is tf_keras.Model)"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=600)
    assert run.stdout.strip().splitlines()[-1:] == ["True"], run.stderr[-2000:]


def test_tf46_tfp_variable_wrappers_on_a_keras3_layer(tf):
    """tf46: a Keras 3 layer does not track TF Probability's `TransformedVariable` or
    `DeferredTensor` held as attributes (its trainable_variables miss them, so fit() and an
    optimizer over them never update them); a `tf.Module` tracks both."""
    tfp = pytest.importorskip("tensorflow_probability", reason="this fact needs TF Probability")
    import keras

    class Layer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.scale = tfp.util.TransformedVariable(1.0, tfp.bijectors.Softplus())
            self.rate = tfp.util.DeferredTensor(tf.Variable(0.5), tf.math.softplus)

    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.scale = tfp.util.TransformedVariable(1.0, tfp.bijectors.Softplus())
            self.rate = tfp.util.DeferredTensor(tf.Variable(0.5), tf.math.softplus)

    assert len(Layer().trainable_variables) == 0
    assert len(Module().trainable_variables) == 2


def test_tf47_plain_tensor_weights_get_no_gradient(tf):
    """tf47: weights kept as plain tensors (`tf.random.normal`, `tf.zeros`, `tf.constant`) are
    not watched by a GradientTape: `tape.gradient` gives None for each, silently; a
    `tf.Variable`, or the same tensor after `tape.watch`, gets a gradient."""
    x = tf.random.normal([8, 3])
    w, b, c = tf.random.normal([3, 1]), tf.zeros([1]), tf.constant([[1.0], [2.0], [3.0]])
    v = tf.Variable(tf.random.normal([3, 1]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(x @ w + b) + tf.reduce_sum(x @ c) + tf.reduce_sum(x @ v)
    gw, gb, gc, gv = tape.gradient(loss, [w, b, c, v])
    assert gw is None and gb is None and gc is None
    assert gv is not None
    with tf.GradientTape() as tape:
        tape.watch(w)
        loss = tf.reduce_sum(x @ w)
    assert tape.gradient(loss, w) is not None


def test_tf51_keras_predict_returns_numpy(tf):
    """tf51: a Keras model's `predict()` and `get_weights()` return NumPy arrays: a loss built
    from them inside the tape gives no gradient to any weight; the model's call does."""
    import numpy as np

    keras = tf.keras
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.ones((4, 3), "float32")
    with tf.GradientTape() as tape:
        pred = net.predict(x, verbose=0)
        kernel = net.get_weights()[0]
        loss = tf.reduce_sum(tf.constant(pred)) + tf.reduce_sum(tf.constant(kernel))
    assert isinstance(pred, np.ndarray) and isinstance(kernel, np.ndarray)
    assert all(g is None for g in tape.gradient(loss, net.trainable_variables))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net(x))
    assert all(g is not None for g in tape.gradient(loss, net.trainable_variables))


def test_tf52_keras_preprocessing_layers_hold_no_trainable_weight(tf):
    """tf52: Keras preprocessing, lookup and augmentation layers (and a `Sequential` of them)
    have no trainable weight, also after `adapt()`, in Keras 3 and in tf_keras: what they
    output carries only what their input carries."""
    import numpy as np

    for keras in (tf.keras, pytest.importorskip("tf_keras")):
        L = keras.layers
        images = tf.random.normal([2, 8, 8, 3])
        norm = L.Normalization()
        norm.adapt(images)
        augment = keras.Sequential([L.RandomFlip(), L.RandomRotation(0.1), L.RandomContrast(0.2), L.RandomZoom(0.1),
                                    L.RandomTranslation(0.1, 0.1), L.RandomCrop(4, 4), L.RandomBrightness(0.1)])
        visual = [norm, L.Rescaling(1 / 255.0), L.Resizing(4, 4), L.CenterCrop(4, 4), augment]
        for layer in visual:
            layer(images, training=True)
        words = L.TextVectorization(max_tokens=10, output_sequence_length=4)
        words.adapt(tf.constant(["a b c", "b c"]))
        words(tf.constant(["a b"]))
        lookups = [L.StringLookup(vocabulary=["a", "b"]), L.IntegerLookup(vocabulary=[1, 2]), L.Hashing(4),
                   L.CategoryEncoding(num_tokens=4, output_mode="one_hot"), L.Discretization(bin_boundaries=[0.0])]
        for layer, value in zip(lookups, (tf.constant(["a"]), tf.constant([1]), tf.constant(["a"]), tf.constant([1]),
                                          tf.constant([1.0]))):
            layer(value)
        for layer in [*visual, words, *lookups]:
            assert layer.trainable_weights == [], type(layer).__name__
        # the input's gradient passes through a differentiable one
        w = tf.Variable(np.ones((1, 1, 1, 3), "float32"))
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(L.Rescaling(0.5)(images * w))
        assert tape.gradient(out, w) is not None


def test_tf53_keras_metric_values_have_no_gradient(tf):
    """tf53: a Keras metric's value, called (`m(y, p)`) or read after `update_state`
    (`m.result()`), has no gradient to the predictions it was given, in Keras 3 and tf_keras,
    for every kind of metric (even `Mean` and `MeanSquaredError`): a loss made of it gives None
    for every weight."""
    for keras in (tf.keras, pytest.importorskip("tf_keras")):
        net = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
        x = tf.random.normal([16, 3])
        y = tf.cast(tf.random.uniform([16, 1]) > 0.5, tf.float32)
        net(x)
        for cls in (keras.metrics.AUC, keras.metrics.BinaryAccuracy, keras.metrics.MeanSquaredError, keras.metrics.Precision):
            called, updated = cls(), cls()
            with tf.GradientTape(persistent=True) as tape:
                p = net(x)
                updated.update_state(y, p)
                by_call = 1.0 - called(y, p)
                by_result = 1.0 - updated.result()
            assert all(g is None for g in tape.gradient(by_call, net.trainable_variables)), cls.__name__
            assert all(g is None for g in tape.gradient(by_result, net.trainable_variables)), cls.__name__
        mean = keras.metrics.Mean()
        with tf.GradientTape() as tape:
            loss = mean(tf.reduce_mean(net(x)))
        assert all(g is None for g in tape.gradient(loss, net.trainable_variables))


def test_tf54_values_computed_under_stop_recording_get_no_gradient(tf):
    """tf54: inside `with tape.stop_recording():` the tape records nothing: a loss computed
    there (forward pass included) gives None for every weight, silently; a statistic computed
    there beside a recorded loss leaves the loss's gradients intact."""
    keras = tf.keras
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = tf.random.normal([4, 3])
    with tf.GradientTape() as tape:
        with tape.stop_recording():
            loss = tf.reduce_mean(tf.square(net(x)))
    assert all(g is None for g in tape.gradient(loss, net.trainable_variables))
    with tf.GradientTape() as tape:
        out = net(x)
        loss = tf.reduce_mean(tf.square(out))
        with tape.stop_recording():
            spread = tf.math.reduce_std(out)
    assert spread is not None
    assert all(g is not None for g in tape.gradient(loss, net.trainable_variables))


def test_tf56_keras_loss_objects_hold_no_weights(tf):
    """tf56: a Keras loss object has no trainable weight, in Keras 3 and tf_keras: on data its
    value gives None for every weight; on the model's prediction every weight gets a gradient."""
    for keras in (tf.keras, pytest.importorskip("tf_keras")):
        net = keras.Sequential([keras.layers.Dense(2), keras.layers.Dense(1)])
        x = tf.random.normal([8, 3])
        y = tf.random.normal([8, 1])
        net(x)
        for loss_fn in (keras.losses.MeanSquaredError(), keras.losses.Huber(0.5), keras.losses.BinaryCrossentropy()):
            assert getattr(loss_fn, "trainable_weights", []) == []
            with tf.GradientTape(persistent=True) as tape:
                on_data = loss_fn(y, tf.zeros_like(y))
                on_prediction = loss_fn(tf.sigmoid(y), tf.sigmoid(net(x)))
            assert all(g is None for g in tape.gradient(on_data, net.trainable_variables))
            assert all(g is not None for g in tape.gradient(on_prediction, net.trainable_variables))
def test_jx50_fill_values_carry_the_gradient():
    """jx50: `jnp.full`/`full_like` and `tf.fill` differentiate in the fill value (not the
    shape or template); torch's `full` takes only a Python number."""
    jax = pytest.importorskip("jax", reason="this fact needs JAX")
    jnp = jax.numpy
    assert float(jax.grad(lambda v: jnp.full((3,), v).sum())(0.5)) == 3.0
    g_v, g_x = jax.grad(lambda v, x: jnp.full_like(x, v).sum(), argnums=(0, 1))(0.5, jnp.ones(3))
    assert float(g_v) == 3.0 and float(jnp.abs(g_x).sum()) == 0.0
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    tf = pytest.importorskip("tensorflow", reason="this fact needs TensorFlow")
    v = tf.Variable(0.5)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.fill([3], v))
    assert float(tape.gradient(y, v)) == 3.0
    torch = pytest.importorskip("torch", reason="this fact needs torch")
    with pytest.raises(TypeError, match="fill_value"):
        torch.full((3,), torch.tensor(0.5, requires_grad=True))
