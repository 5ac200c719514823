"""jax.example_libraries.stax network: the user means to freeze only the feature block but wraps the whole serial model in the stop_gradient Frozen wrapper, so every gradient (head included) is zero and nothing trains.

Source: https://github.com/google/neural-tangents/issues/10
Label: buggy
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
        params = jax.tree_util.tree_map(lax.stop_gradient, params)  # BUG
        return apply_fn(params, inputs, **kwargs)

    return init_fn, frozen_apply


def build_classifier(n_classes):
    features = stax.serial(stax.Dense(16), stax.Relu)
    return Frozen(stax.serial(features, stax.Dense(n_classes), stax.LogSoftmax))  # BUG


init_fn, predict = build_classifier(3)
_, params = init_fn(jax.random.PRNGKey(0), (-1, 6))
opt_init, opt_update, get_params = optimizers.sgd(0.1)
opt_state = opt_init(params)


def nll(params, x, y):
    return -jnp.mean(jnp.sum(predict(params, x) * y, axis=-1))


x = jax.random.normal(jax.random.PRNGKey(1), (10, 6))
y = jax.nn.one_hot(jnp.arange(10) % 3, 3)
for i in range(2):
    g = jax.grad(nll)(get_params(opt_state), x, y)
    opt_state = opt_update(i, g, opt_state)

assert all(bool(jnp.all(leaf == 0)) for leaf in jax.tree_util.tree_leaves(g))
assert bool(jnp.all(get_params(opt_state)[1][1][0] == params[1][1][0]))
