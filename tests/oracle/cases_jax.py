"""Oracle cases for the JAX and Flax rules (GS5xx); the conventions are those of `cases.py`,
whose `_case` decorator registers each case into the shared `CASES`."""

from __future__ import annotations

from .cases import CASES, OracleCase, _case  # noqa: F401


# FACTS jx40: without jit, `.item()` on a value traced by jax.grad returns its concrete value as
# a Python constant: the gradient of `x.item() * x` at x=2 is 2.0 instead of 4.0, silently.
@_case(
    "GS501",
    "jax",
    bad='''
    import jax
    import jax.numpy as jnp


    def loss_fn(w, x):
        pred = jnp.sum(x * w)
        scale = pred.item()  # GS501
        return pred * scale


    w = jnp.array(2.0)
    x = jnp.array(1.0)
    grad = jax.grad(loss_fn)(w, x)
    ''',
    good='''
    import jax
    import jax.numpy as jnp


    def loss_fn(w, x):
        pred = jnp.sum(x * w)
        scale = pred
        return pred * scale


    w = jnp.array(2.0)
    x = jnp.array(1.0)
    grad = jax.grad(loss_fn)(w, x)
    ''',
)
class _ItemInJaxGrad:
    @staticmethod
    def check_bad(ns):
        # d(w*w)/dw at w=2 is 4.0; the `.item()` term is a constant, so only 2.0 remains
        assert float(ns["grad"]) == 2.0, f"`.item()` should silently drop half the gradient (2.0), got {ns['grad']}"
        # and no error under plain grad: the wrong value came back

    @staticmethod
    def check_good(ns):
        assert float(ns["grad"]) == 4.0, f"without `.item()` the gradient is 4.0, got {ns['grad']}"


# FACTS jx44: in a flax.nnx Module, a weight stored as a raw jax array gets no entry in the
# nnx.grad state (only nnx.Param is differentiated by default), so an optimizer step leaves it
# unchanged; nnx.Param trains.
_NNX_SCALE = '''
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class Scale(nnx.Module):
    def __init__(self, dim, rngs: nnx.Rngs):
        self.linear = nnx.Linear(dim, dim, rngs=rngs)
{gamma}

    def __call__(self, x):
        return self.linear(x) * self.gamma


model = Scale(3, nnx.Rngs(0))
gamma_before = jnp.array(model.gamma)
x = jnp.ones((4, 3))
y = jnp.zeros((4, 3))


def loss_fn(m):
    return jnp.mean((m(x) - y) ** 2)


grads = nnx.grad(loss_fn)(model)
grad_keys = sorted(".".join(map(str, k)) for k, _ in nnx.to_flat_state(grads))
optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
optimizer.update(model, grads)
gamma_after = jnp.array(model.gamma)
'''


def _nnx_gamma_untrained(ns):
    import numpy as np

    assert "gamma" not in ns["grad_keys"], f"nnx.grad should have no entry for the raw array, got {ns['grad_keys']}"
    assert "linear.kernel" in ns["grad_keys"], ns["grad_keys"]
    assert np.allclose(ns["gamma_before"], ns["gamma_after"]), "the raw array should be unchanged by the optimizer step"


def _nnx_gamma_trained(ns):
    import numpy as np

    assert "gamma" in ns["grad_keys"], f"nnx.Param gets a gradient, got {ns['grad_keys']}"
    assert not np.allclose(ns["gamma_before"], ns["gamma_after"]), "the nnx.Param should move after one step"


CASES["GS502"] = OracleCase(
    "GS502",
    "jax",
    _NNX_SCALE.format(gamma=" " * 8 + "self.gamma = jax.random.normal(rngs.params(), (dim,))  # GS502").lstrip("\n"),
    _NNX_SCALE.format(gamma=" " * 8 + "self.gamma = nnx.Param(jax.random.normal(rngs.params(), (dim,)))").lstrip("\n"),
    _nnx_gamma_untrained,
    _nnx_gamma_trained,
)

# FACTS jx44, the nnx.Variable form: a state container, but not selected by nnx.grad / nnx.Optimizer.
CASES["GS502-variable"] = OracleCase(
    "GS502",
    "jax",
    _NNX_SCALE.format(gamma=" " * 8 + "self.gamma = nnx.Variable(jax.random.normal(rngs.params(), (dim,)))  # GS502").lstrip("\n"),
    _NNX_SCALE.format(gamma=" " * 8 + "self.gamma = nnx.Param(jax.random.normal(rngs.params(), (dim,)))").lstrip("\n"),
    _nnx_gamma_untrained,
    _nnx_gamma_trained,
)

# FACTS jx44, an all-ones scale (the identity of `*`) kept as a raw array: no gradient entry,
# never updated; the same array as nnx.Param trains.
CASES["GS502-ones"] = OracleCase(
    "GS502",
    "jax",
    _NNX_SCALE.format(gamma=" " * 8 + "self.gamma = jnp.ones((dim,))  # GS502").lstrip("\n"),
    _NNX_SCALE.format(gamma=" " * 8 + "self.gamma = nnx.Param(jnp.ones((dim,)))").lstrip("\n"),
    _nnx_gamma_untrained,
    _nnx_gamma_trained,
)


# FACTS jx44, the Linen form: an array assigned in setup() is a plain attribute, not a variable:
# `init` returns no entry for it, so the gradient and the optimizer never see it; `self.param`
# puts it in params and it trains.
_LINEN_SETUP = '''
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn


class Calibrated(nn.Module):
    def setup(self):
        self.dense = nn.Dense(3)
{temp}

    def __call__(self, x):
        return self.dense(x) / jnp.exp(self.log_temperature)


model = Calibrated()
x = jnp.ones((4, 2))
y = jnp.zeros((4, 3))
params = model.init(jax.random.PRNGKey(0), x)["params"]


def loss_fn(p):
    return jnp.mean((model.apply({{"params": p}}, x) - y) ** 2)


grads = jax.grad(loss_fn)(params)
grad_keys = sorted(grads)
new_params = optax.apply_updates(params, jax.tree_util.tree_map(lambda g: -0.1 * g, grads))
temp_after = float(model.bind({{"params": new_params}}).log_temperature)
'''


def _linen_temp_untrained(ns):
    assert "log_temperature" not in ns["grad_keys"], ns["grad_keys"]
    assert ns["temp_after"] == 0.0, "the setup array keeps its initial value"


def _linen_temp_trained(ns):
    assert "log_temperature" in ns["grad_keys"], ns["grad_keys"]
    assert ns["temp_after"] != 0.0


CASES["GS502-linen"] = OracleCase(
    "GS502",
    "jax",
    _LINEN_SETUP.format(temp=" " * 8 + "self.log_temperature = jnp.zeros(())  # GS502").lstrip("\n"),
    _LINEN_SETUP.format(temp=" " * 8 + 'self.log_temperature = self.param("log_temperature", nn.initializers.zeros, ())').lstrip("\n"),
    _linen_temp_untrained,
    _linen_temp_trained,
)

# FACTS jx42: inside jax.grad, jnp.round (like floor, ceil, sign, argmax, comparisons and integer
# casts) differentiates to exactly zero, with no error and no None: when it is the only path from
# the parameters to the loss, every gradient is 0. The straight-through estimator
# `pred + stop_gradient(round(pred) - pred)` lets the gradient through.
@_case(
    "GS503",
    "jax",
    bad='''
    import jax
    import jax.numpy as jnp


    def loss_fn(params, x, y):
        pred = jnp.tanh(x @ params["w"]) * 3.0
        q = jnp.round(pred)  # GS503
        return jnp.mean((q - y) ** 2)


    params = {"w": jax.random.normal(jax.random.PRNGKey(0), (3, 2))}
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
    y = jnp.full((8, 2), 0.5)
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    ''',
    good='''
    import jax
    import jax.numpy as jnp


    def loss_fn(params, x, y):
        pred = jnp.tanh(x @ params["w"]) * 3.0
        q = pred + jax.lax.stop_gradient(jnp.round(pred) - pred)
        return jnp.mean((q - y) ** 2)


    params = {"w": jax.random.normal(jax.random.PRNGKey(0), (3, 2))}
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
    y = jnp.full((8, 2), 0.5)
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    ''',
)
class _NonDifferentiableOpInJaxLoss:
    @staticmethod
    def check_bad(ns):
        import numpy as np

        g = np.asarray(ns["grads"]["w"])
        assert float(ns["loss"]) > 0, "the loss is not zero, so a working gradient would not vanish"
        assert g.shape == (3, 2) and not np.isnan(g).any(), "jax.grad returns an array, never None or NaN"
        assert np.all(g == 0.0), f"jnp.round on the only path should give a gradient of exactly zero, got {g}"

    @staticmethod
    def check_good(ns):
        import numpy as np

        g = np.asarray(ns["grads"]["w"])
        assert np.any(g != 0.0), f"the straight-through estimator should let the gradient through, got {g}"


# FACTS jx45: inside jax.grad, NumPy's ufuncs (np.log) ask the tracer for a NumPy array and raise
# TracerArrayConversionError; jnp.log differentiates.
@_case(
    "GS504",
    "jax",
    bad='''
    import jax
    import jax.numpy as jnp
    import numpy as np


    def bce(w, x, y):
        p = jax.nn.sigmoid(x @ w)
        return -jnp.mean(y * np.log(p) + (1 - y) * jnp.log(1 - p))  # GS504


    w = jnp.zeros(3)
    x = jnp.ones((4, 3))
    y = jnp.array([0.0, 1.0, 1.0, 0.0])
    try:
        grads = jax.grad(bce)(w, x, y)
        error = None
    except Exception as e:  # the oracle checks which
        grads, error = None, e
    ''',
    good='''
    import jax
    import jax.numpy as jnp
    import numpy as np


    def bce(w, x, y):
        p = jax.nn.sigmoid(x @ w)
        return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))


    w = jnp.zeros(3)
    x = jnp.ones((4, 3))
    y = jnp.array([0.0, 1.0, 1.0, 1.0])
    grads = jax.grad(bce)(w, x, y)
    error = None
    ''',
)
class _NumpyOnJaxTracer:
    @staticmethod
    def check_bad(ns):
        import jax

        assert isinstance(ns["error"], jax.errors.TracerArrayConversionError), f"np.log of a tracer should raise, got {ns['error']!r}"

    @staticmethod
    def check_good(ns):
        import numpy as np

        assert ns["error"] is None and np.all(np.isfinite(ns["grads"])) and np.any(np.asarray(ns["grads"]) != 0.0)


# FACTS jx42, the stop_gradient form: wrapped around the online Q-values instead of the target,
# stop_gradient leaves the loss no path from the parameters: jax.grad returns zeros, silently.
_TD = '''
import jax
import jax.numpy as jnp


def q_values(params, obs):
    return jnp.tanh(obs @ params["w1"]) @ params["w2"]


def td_loss(params, target_params, obs, actions, rewards, next_obs):
{body}
    q_a = jnp.take_along_axis(q, actions[:, None], axis=1)[:, 0]
    return jnp.mean((q_a - target) ** 2)


k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
params = {{"w1": jax.random.normal(k1, (4, 8)), "w2": jax.random.normal(k2, (8, 2))}}
target_params = jax.tree_util.tree_map(lambda p: p * 0.5, params)
obs = jax.random.normal(k3, (6, 4))
actions = jnp.array([0, 1, 0, 1, 1, 0])
rewards = jnp.ones(6)
loss, grads = jax.value_and_grad(td_loss)(params, target_params, obs, actions, rewards, obs + 0.1)
'''


def _td_zero(ns):
    import numpy as np

    assert float(ns["loss"]) > 0
    leaves = [np.asarray(g) for g in ns["grads"].values()]
    assert all(np.all(g == 0.0) for g in leaves), f"stop_gradient on the online Q should zero every gradient, got {leaves}"


def _td_flows(ns):
    import numpy as np

    assert all(np.any(np.asarray(g) != 0.0) for g in ns["grads"].values()), "the online Q should get gradients"


CASES["GS503-stop-gradient"] = OracleCase(
    "GS503",
    "jax",
    _TD.format(body="    q = jax.lax.stop_gradient(q_values(params, obs))  # GS503\n"
                    "    target = rewards + 0.99 * q_values(target_params, next_obs).max(axis=1)").lstrip("\n"),
    _TD.format(body="    q = q_values(params, obs)\n"
                    "    target = jax.lax.stop_gradient(rewards + 0.99 * q_values(target_params, next_obs).max(axis=1))").lstrip("\n"),
    _td_zero,
    _td_flows,
)


# FACTS jx42, the tree-map form: `jax.tree_util.tree_map(jax.lax.stop_gradient, params)` stops every
# leaf of the tree; mapped over the online parameters it zeroes every gradient, mapped over the
# target network's parameters it freezes only them.
CASES["GS503-tree-map-stop-gradient"] = OracleCase(
    "GS503",
    "jax",
    _TD.format(body="    frozen = jax.tree_util.tree_map(jax.lax.stop_gradient, params)  # GS503\n"
                    "    q = q_values(frozen, obs)\n"
                    "    target = rewards + 0.99 * q_values(target_params, next_obs).max(axis=1)").lstrip("\n"),
    _TD.format(body="    q = q_values(params, obs)\n"
                    "    frozen = jax.tree_util.tree_map(jax.lax.stop_gradient, target_params)\n"
                    "    target = rewards + 0.99 * q_values(frozen, next_obs).max(axis=1)").lstrip("\n"),
    _td_zero,
    _td_flows,
)
# FACTS jx46: jax.grad differentiates argument 0 unless argnums says otherwise: for loss(x, w, y)
# the gradient a training loop subtracts from w is d loss / d x; the loop does not fit w.
_ARGNUMS = '''
import jax
import jax.numpy as jnp


def loss(x, w, y):
    return jnp.mean((x @ w - y) ** 2)


grad_loss = jax.grad(loss{argnums}){marker}
x = jax.random.normal(jax.random.PRNGKey(0), (16, 3))
w_true = jnp.array([2.0, -1.0, 0.5])
y = x @ w_true
w = jnp.zeros(3)
first = grad_loss(x, w, y)
for _ in range(200):
    w = w - 0.1 * grad_loss(x, w, y)
final_loss = loss(x, w, y)
d_x = jax.grad(loss, argnums=0)(x, jnp.zeros(3), y)
'''


def _argnums_wrong(ns):
    import numpy as np

    assert np.shape(ns["first"]) == (16, 3), f"the default argnums=0 gives d loss / d x, shaped like x: {np.shape(ns['first'])}"
    assert np.allclose(ns["first"], ns["d_x"])


def _argnums_right(ns):
    assert float(ns["final_loss"]) < 1e-3, f"with argnums=1 the loop fits w, loss {float(ns['final_loss'])}"


CASES["GS505"] = OracleCase(
    "GS505",
    "jax",
    _ARGNUMS.format(argnums="", marker="  # GS505").lstrip("\n").replace(
        "    w = w - 0.1 * grad_loss(x, w, y)", "    w = w - 0.1 * grad_loss(x, w, y).mean(0)"),
    _ARGNUMS.format(argnums=", argnums=1", marker="").lstrip("\n"),
    _argnums_wrong,
    _argnums_right,
)


# FACTS jx47: a loss that closes over the outer params instead of reading its argument does not
# depend on that argument: jax.grad returns exact zeros for every leaf and an optax step on a
# TrainState leaves the weights where they were. Reading the argument gives non-zero gradients.
_CLOSURE = '''
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training import train_state

model = nn.Dense(1)
x = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
y = x.sum(axis=1, keepdims=True)
state = train_state.TrainState.create(
    apply_fn=model.apply, params=model.init(jax.random.PRNGKey(1), x)["params"], tx=optax.sgd(0.1))


def loss_fn(params):
    pred = state.apply_fn({{"params": {used}}}, x){marker}
    return jnp.mean((pred - y) ** 2)


grads = jax.grad(loss_fn)(state.params)
new_state = state.apply_gradients(grads=grads)
leaves = jax.tree_util.tree_leaves(grads)
moved = [bool(jnp.any(a != b)) for a, b in zip(jax.tree_util.tree_leaves(state.params),
                                                 jax.tree_util.tree_leaves(new_state.params))]
'''


def _closure_zero(ns):
    import numpy as np

    assert all(np.all(np.asarray(g) == 0) for g in ns["leaves"]), "the closed-over loss gives zero gradients"
    assert not any(ns["moved"]), "the step leaves every weight unchanged"


def _closure_flows(ns):
    import numpy as np

    assert all(np.any(np.asarray(g) != 0) for g in ns["leaves"]), "reading the argument gives gradients"
    assert all(ns["moved"])


CASES["GS506"] = OracleCase(
    "GS506",
    "jax",
    _CLOSURE.format(used="state.params", marker="  # GS506").lstrip("\n"),
    _CLOSURE.format(used="params", marker="").lstrip("\n"),
    _closure_zero,
    _closure_flows,
)


# FACTS jx48: optax.apply_updates is pure: called without using its result, the params a loop
# carries stay bit-identical after several steps while the optimizer state advances; assigning
# the result back moves them and lowers the loss.
_APPLY = '''
import jax
import jax.numpy as jnp
import optax

x = jax.random.normal(jax.random.PRNGKey(0), (16, 3))
y = x @ jnp.array([1.0, -2.0, 0.5])
params = {{"w": jnp.zeros(3)}}
tx = optax.adam(0.1)
opt_state = tx.init(params)


def loss_fn(params):
    return jnp.mean((x @ params["w"] - y) ** 2)


start = params
first_loss = loss_fn(params)
for _ in range(5):
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    {apply}
last_loss = loss_fn(params)
same = bool(jnp.all(start["w"] == params["w"]))
'''


def _apply_dropped(ns):
    assert ns["same"], "the params never change when the result of apply_updates is dropped"
    assert float(ns["first_loss"]) == float(ns["last_loss"])


def _apply_kept(ns):
    assert not ns["same"] and float(ns["last_loss"]) < float(ns["first_loss"])


CASES["GS507"] = OracleCase(
    "GS507",
    "jax",
    _APPLY.format(apply="optax.apply_updates(params, updates)  # GS507").lstrip("\n"),
    _APPLY.format(apply="params = optax.apply_updates(params, updates)").lstrip("\n"),
    _apply_dropped,
    _apply_kept,
)


# FACTS jx48, the Flax TrainState form: `state.apply_gradients(grads=...)` returns a new state and
# leaves its receiver as it was; a bare call keeps the old weights, the assigned call moves them.
_TRAIN_STATE = '''
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

x = jax.random.normal(jax.random.PRNGKey(0), (16, 3))
y = x @ jnp.array([1.0, -2.0, 0.5])


def apply_fn(variables, inputs):
    return inputs @ variables["params"]["w"]


def loss_fn(params):
    return jnp.mean((apply_fn({{"params": params}}, x) - y) ** 2)


state = train_state.TrainState.create(apply_fn=apply_fn, params={{"w": jnp.zeros(3)}}, tx=optax.sgd(0.1))
start = state.params
first_loss = loss_fn(state.params)
for _ in range(5):
    grads = jax.grad(loss_fn)(state.params)
    {apply}
last_loss = loss_fn(state.params)
same = bool(jnp.all(start["w"] == state.params["w"]))
'''


CASES["GS507-train-state"] = OracleCase(
    "GS507",
    "jax",
    _TRAIN_STATE.format(apply="state.apply_gradients(grads=grads)  # GS507").lstrip("\n"),
    _TRAIN_STATE.format(apply="state = state.apply_gradients(grads=grads)").lstrip("\n"),
    _apply_dropped,
    _apply_kept,
)


# FACTS jx48, the Flax NNX functional form: `nnx.split(model)` copies the arrays out into a State;
# a step that returns new arrays leaves `model` as it was until `nnx.update(model, state)`.
_NNX_SPLIT = '''
import jax
import jax.numpy as jnp
from flax import nnx

x = jax.random.normal(jax.random.PRNGKey(0), (16, 3))
y = x @ jnp.array([[1.0], [-2.0], [0.5]])
model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))


@jax.jit
def step(graphdef, state):
    def loss(s):
        return jnp.mean((nnx.merge(graphdef, s)(x) - y) ** 2)

    grads = jax.grad(loss)(state)
    return jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, state, grads)


def fit(model):
    graphdef, state = nnx.split(model)
    for _ in range(5):
        state = step(graphdef, state)
    {write_back}
    return model


start = model.kernel[...].copy()
first_loss = jnp.mean((model(x) - y) ** 2)
model = fit(model)
last_loss = jnp.mean((model(x) - y) ** 2)
same = bool(jnp.all(model.kernel[...] == start))
'''


CASES["GS507-nnx-split"] = OracleCase(
    "GS507",
    "jax",
    _NNX_SPLIT.format(write_back="pass").replace("    return model\n", "    return model  # GS507\n", 1).lstrip("\n"),
    _NNX_SPLIT.format(write_back="nnx.update(model, state)").lstrip("\n"),
    _apply_dropped,
    _apply_kept,
)


# FACTS jx48, Flax NNX under plain `jax.jit`: jit flattens the nnx arguments and traces copies, so
# `optimizer.update(model, grads)` inside it changes the copies only; the caller's model keeps its
# weights (no error). The same step under `nnx.jit` moves them.
_NNX_JIT = '''
import jax
import jax.numpy as jnp
import optax
from flax import nnx

x = jax.random.normal(jax.random.PRNGKey(0), (16, 3))
y = x @ jnp.array([[1.0], [-2.0], [0.5]])
model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)


def mse(m):
    return jnp.mean((m(x) - y) ** 2)


{jit}
def step(model, optimizer):
    grads = nnx.grad(mse)(model)
    optimizer.update(model, grads)


start = model.kernel[...].copy()
first_loss = mse(model)
for _ in range(5):
    step(model, optimizer)
last_loss = mse(model)
same = bool(jnp.all(model.kernel[...] == start))
'''


CASES["GS507-nnx-jax-jit"] = OracleCase(
    "GS507",
    "jax",
    _NNX_JIT.format(jit="@jax.jit  # GS507").lstrip("\n"),
    _NNX_JIT.format(jit="@nnx.jit").lstrip("\n"),
    _apply_dropped,
    _apply_kept,
)


# FACTS jx47, the argument read beside the outer value: the loss reads its argument in a weight
# decay term but builds the fit from `state.params`, the value passed for it: the gradient is
# exactly the decay term's (2 * wd * p), the fit contributes nothing; reading the argument in the
# fit too gives the full gradient.
_BESIDE = '''
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training import train_state

model = nn.Dense(1)
x = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
y = x.sum(axis=1, keepdims=True)
state = train_state.TrainState.create(
    apply_fn=model.apply, params=model.init(jax.random.PRNGKey(1), x)["params"], tx=optax.sgd(0.1))
wd = 1e-2


def loss_fn(params):
    pred = state.apply_fn({{"params": {used}}}, x){marker}
    decay = sum(jnp.sum(w ** 2) for w in jax.tree_util.tree_leaves(params))
    return jnp.mean((pred - y) ** 2) + wd * decay


grads = jax.grad(loss_fn)(state.params)
decay_only = all(bool(jnp.allclose(g, 2 * wd * p)) for g, p in zip(
    jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(state.params)))
'''


def _beside_decay_only(ns):
    assert ns["decay_only"], "the fit read from outside adds nothing: the gradient is the decay term's alone"


def _beside_full(ns):
    assert not ns["decay_only"], "reading the argument in the fit gives the fit's gradient too"


CASES["GS506-beside"] = OracleCase(
    "GS506",
    "jax",
    _BESIDE.format(used="state.params", marker="  # GS506").lstrip("\n"),
    _BESIDE.format(used="params", marker="").lstrip("\n"),
    _beside_decay_only,
    _beside_full,
)


# FACTS jx42, the straight-through estimator written backwards: `q + stop_gradient(w - q)` with
# `q = round(w)` reports `w` forward but differentiates through the rounding: the gradient is
# exactly zero; `w + stop_gradient(q - w)` lets it through.
_STE_ORDER = '''
import jax
import jax.numpy as jnp

x = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
y = x @ jnp.array([0.5, -1.0, 0.25])
w = jnp.array([0.3, 0.2, -0.4])


def quantize(w):
    q = jnp.round(w * 4.0) / 4.0
{ste}


def loss(w):
    return jnp.mean((x @ quantize(w) - y) ** 2)


g = jax.grad(loss)(w)
forward_is_w = bool(jnp.allclose(quantize(w), w))
'''


def _ste_reversed_zero(ns):
    import numpy as np

    assert ns["forward_is_w"], "the backwards estimator reports w forward"
    assert np.all(np.asarray(ns["g"]) == 0), "and its gradient is exactly zero"


def _ste_flows(ns):
    import numpy as np

    assert np.any(np.asarray(ns["g"]) != 0)


CASES["GS503-reversed-ste"] = OracleCase(
    "GS503",
    "jax",
    _STE_ORDER.format(ste="    return q + jax.lax.stop_gradient(w - q)  # GS503").lstrip("\n"),
    _STE_ORDER.format(ste="    return w + jax.lax.stop_gradient(q - w)").lstrip("\n"),
    _ste_reversed_zero,
    _ste_flows,
)


# FACTS jx51: a custom_vjp backward's None cotangent is zero: a custom dense op that returns only
# its weight's cotangent cuts the chain rule at its input, so the layer before it gets an
# all-zero gradient; returning the input's cotangent too fixes it.
_CUSTOM_DENSE = '''
import jax
import jax.numpy as jnp


@jax.custom_vjp
def dense(w, x):
    return x @ w


def dense_fwd(w, x):
    return x @ w, (w, x)


def dense_bwd(res, g):
    w, x = res
{ret}


dense.defvjp(dense_fwd, dense_bwd)
k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
params = {{"w1": jax.random.normal(k1, (3, 4)), "w2": jax.random.normal(k2, (4, 1))}}
x = jax.random.normal(k3, (8, 3))
y = x.sum(axis=1, keepdims=True)


def loss(p):
    return jnp.mean((dense(p["w2"], jnp.tanh(dense(p["w1"], x))) - y) ** 2)


grads = jax.grad(loss)(params)
first_zero = bool(jnp.all(grads["w1"] == 0))
second_zero = bool(jnp.all(grads["w2"] == 0))
'''


def _first_layer_zero(ns):
    assert ns["first_zero"], "the first layer gets an all-zero gradient"
    assert not ns["second_zero"], "the second layer still gets its own"


def _both_layers_train(ns):
    assert not ns["first_zero"] and not ns["second_zero"]


CASES["GS508"] = OracleCase(
    "GS508",
    "jax",
    _CUSTOM_DENSE.format(ret="    return x.T @ g, None  # GS508").lstrip("\n"),
    _CUSTOM_DENSE.format(ret="    return x.T @ g, g @ w.T").lstrip("\n"),
    _first_layer_zero,
    _both_layers_train,
)


# FACTS jx52: optax.masked passes the updates of the leaves outside its mask through unchanged:
# with an optimizer inside and fed raw gradients, apply_updates moves those leaves to params + grad
# (uphill); freezing them with masked(set_to_zero()) chained after the optimizer keeps them.
_MASKED = '''
import jax
import jax.numpy as jnp
import optax

x = jax.random.normal(jax.random.PRNGKey(0), (16, 3))
y = x @ jnp.array([1.0, -2.0, 0.5]) + 1.0
params = {{"backbone": jnp.array([0.1, 0.2, 0.3]), "head": jnp.array(0.0)}}
train_head = {{"backbone": False, "head": True}}
frozen = {{"backbone": True, "head": False}}


def loss_fn(p):
    return jnp.mean((x @ p["backbone"] + p["head"] - y) ** 2)


{tx}
opt_state = tx.init(params)
grads = jax.grad(loss_fn)(params)
updates, opt_state = tx.update(grads, opt_state, params)
new_params = optax.apply_updates(params, updates)
ascended = bool(jnp.allclose(new_params["backbone"], params["backbone"] + grads["backbone"]))
kept = bool(jnp.all(new_params["backbone"] == params["backbone"]))
'''


def _masked_ascends(ns):
    assert ns["ascended"], "the leaves outside the mask move by +grad"
    assert not ns["kept"]


def _masked_frozen(ns):
    assert ns["kept"], "set_to_zero over the frozen leaves keeps them"


CASES["GS509"] = OracleCase(
    "GS509",
    "jax",
    _MASKED.format(tx="tx = optax.masked(optax.sgd(0.1), train_head)  # GS509").lstrip("\n"),
    _MASKED.format(tx="tx = optax.chain(optax.sgd(0.1), optax.masked(optax.set_to_zero(), frozen))").lstrip("\n"),
    _masked_ascends,
    _masked_frozen,
)
