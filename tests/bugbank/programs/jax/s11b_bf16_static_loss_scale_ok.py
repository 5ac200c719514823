"""Mixed-precision step written by hand: params are cast to bfloat16 for the forward pass, the loss is multiplied by a static loss scale, and the gradients are unscaled and checked for finiteness before the optax update; the float32 master weights train.

Source: https://github.com/keras-team/keras/issues/19244
        https://github.com/marin-community/levanter/pull/22
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

LOSS_SCALE = 2.0 ** 8


def cast_tree(tree, dtype):
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), tree)


def forward(params, x):
    h = jax.nn.gelu(x @ params["w1"] + params["b1"])
    return h @ params["w2"]


def scaled_loss(params, x, y):
    half = cast_tree(params, jnp.bfloat16)
    pred = forward(half, x.astype(jnp.bfloat16)).astype(jnp.float32)
    loss = jnp.mean((pred - y) ** 2)
    return loss * LOSS_SCALE, loss


@jax.jit
def step(params, opt_state, x, y):
    (_, loss), grads = jax.value_and_grad(scaled_loss, has_aux=True)(params, x, y)
    grads = jax.tree_util.tree_map(lambda g: g.astype(jnp.float32) / LOSS_SCALE, grads)
    finite = jnp.all(jnp.array([jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)]))
    updates, new_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    params = jax.tree_util.tree_map(lambda n, o: jnp.where(finite, n, o), new_params, params)
    return params, new_state, loss, grads


k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
params = {"w1": jax.random.normal(k1, (4, 16)) * 0.5, "b1": jnp.zeros(16),
          "w2": jax.random.normal(k2, (16, 1)) * 0.5}
tx = optax.adam(1e-2)
opt_state = tx.init(params)
x = jax.random.normal(k3, (32, 4))
y = jnp.sin(x[:, :1])
start = params
for _ in range(3):
    params, opt_state, loss, grads = step(params, opt_state, x, y)

assert bool(jnp.any(grads["w1"] != 0))
assert bool(jnp.any(params["w1"] != start["w1"]))
