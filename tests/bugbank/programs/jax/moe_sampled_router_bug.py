"""Mixture-of-experts layer in plain JAX: each token's expert is drawn with jax.random.categorical from the router logits and the chosen expert's output is used as is, so the router never learns.

Source: https://github.com/labmlai/annotated_deep_learning_paper_implementations/issues/95
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

D, N_EXPERTS = 4, 3


def init_params(key):
    k_router, k_experts = jax.random.split(key)
    return {
        "router": 0.5 * jax.random.normal(k_router, (D, N_EXPERTS)),
        "experts": 0.5 * jax.random.normal(k_experts, (N_EXPERTS, D, D)),
    }


def moe_layer(params, x, key):
    router_logits = x @ params["router"]
    expert_idx = jax.random.categorical(key, router_logits, axis=-1)  # BUG
    expert_out = jnp.einsum("nd,edk->nek", x, params["experts"])
    return expert_out[jnp.arange(x.shape[0]), expert_idx]


def loss_fn(params, x, y, key):
    return jnp.mean((moe_layer(params, x, key) - y) ** 2)


optimizer = optax.adam(1e-2)


def train(params, x, y, steps=2):
    opt_state = optimizer.init(params)
    key = jax.random.PRNGKey(1)
    grads = None
    for _ in range(steps):
        key, sub = jax.random.split(key)
        grads = jax.grad(loss_fn)(params, x, y, sub)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    return params, grads


if __name__ == "__main__":
    x = jax.random.normal(jax.random.PRNGKey(2), (6, D))
    y = jax.random.normal(jax.random.PRNGKey(3), (6, D))
    params = init_params(jax.random.PRNGKey(0))
    new_params, grads = train(params, x, y)
    assert bool(jnp.all(grads["router"] == 0))
    assert bool(jnp.all(new_params["router"] == params["router"]))
    assert bool(jnp.any(grads["experts"] != 0))
