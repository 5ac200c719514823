"""jax.example_libraries.stax network whose pretrained feature block is frozen by wrapping its params in lax.stop_gradient inside a Frozen layer; the classifier head behind it still trains.

Source: https://github.com/google/neural-tangents/issues/10
Label: clean
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp
from jax import lax
from jax.example_libraries import optimizers, stax


def Frozen(layer):
    init_fn, apply_fn = layer

    def frozen_apply(params, inputs, **kwargs):
        params = jax.tree_util.tree_map(lax.stop_gradient, params)
        return apply_fn(params, inputs, **kwargs)

    return init_fn, frozen_apply


features = stax.serial(stax.Dense(16), stax.Relu)
init_fn, predict = stax.serial(Frozen(features), stax.Dense(3), stax.LogSoftmax)

rng = jax.random.PRNGKey(0)
_, params = init_fn(rng, (-1, 6))
opt_init, opt_update, get_params = optimizers.adam(1e-2)
opt_state = opt_init(params)


def nll(params, x, y):
    logp = predict(params, x)
    return -jnp.mean(jnp.sum(logp * y, axis=-1))


@jax.jit
def step(i, opt_state, x, y):
    g = jax.grad(nll)(get_params(opt_state), x, y)
    return opt_update(i, g, opt_state), g


x = jax.random.normal(jax.random.PRNGKey(1), (10, 6))
y = jax.nn.one_hot(jnp.arange(10) % 3, 3)
for i in range(3):
    opt_state, g = step(i, opt_state, x, y)

head_w = g[1][0]
frozen_w = g[0][0][0]
assert bool(jnp.any(head_w != 0))
assert bool(jnp.all(frozen_w == 0))
trained = get_params(opt_state)
assert bool(jnp.any(trained[1][0] != params[1][0]))
