"""Discrete-code autoencoder in plain JAX with a hard Gumbel-softmax straight-through sample: the one-hot comes from argmax, the gradient reaches the encoder through the soft sample (stop_gradient on the difference).

Source: https://github.com/ericjang/gumbel-softmax/issues/12
        https://github.com/danijar/dreamerv2/issues/37
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

N_CODES = 4


def init(key, din=6):
    k1, k2 = jax.random.split(key)
    return {"enc": jax.random.normal(k1, (din, N_CODES)) * 0.3, "dec": jax.random.normal(k2, (N_CODES, din)) * 0.3}


def straight_through_gumbel(key, logits, tau=0.5):
    g = jax.random.gumbel(key, logits.shape)
    soft = jax.nn.softmax((logits + g) / tau, axis=-1)
    hard = jax.nn.one_hot(jnp.argmax(soft, axis=-1), logits.shape[-1])
    return soft + jax.lax.stop_gradient(hard - soft)


def loss_fn(params, x, key):
    key, sub = jax.random.split(key)
    code = straight_through_gumbel(sub, x @ params["enc"])
    recon = code @ params["dec"]
    return jnp.mean((recon - x) ** 2)


optimizer = optax.adam(1e-2)


@jax.jit
def step(params, opt_state, x, key):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, key)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, grads


if __name__ == "__main__":
    kp, kx, ks = jax.random.split(jax.random.PRNGKey(0), 3)
    params = init(kp)
    opt_state = optimizer.init(params)
    x = jax.random.normal(kx, (16, 6))
    new_params, opt_state, loss, grads = step(params, opt_state, x, ks)
    assert bool(jnp.any(grads["enc"] != 0)) and bool(jnp.any(grads["dec"] != 0))
    assert bool(jnp.any(new_params["enc"] != params["enc"]))
