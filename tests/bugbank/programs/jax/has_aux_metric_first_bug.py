"""Plain-JAX softmax classifier whose loss function returns (accuracy, loss) to value_and_grad(has_aux=True): JAX differentiates the FIRST element, the argmax accuracy, and every gradient is zero.

Source: https://github.com/jax-ml/jax/pull/484 (has_aux: the function returns (value, aux), the value is differentiated)
        https://github.com/jax-ml/jax/issues/6213
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def forward(params, x):
    return x @ params["w"] + params["b"]


def loss_and_metrics(params, x, labels):
    logits = forward(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return accuracy, loss  # BUG


grad_fn = jax.value_and_grad(loss_and_metrics, has_aux=True)


def train(params, x, labels, steps=3):
    tx = optax.sgd(0.5)
    opt_state = tx.init(params)
    history = []
    for _ in range(steps):
        (acc, loss), grads = grad_fn(params, x, labels)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
        history.append((float(acc), float(loss), grads))
    return params, history


if __name__ == "__main__":
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (20, 4))
    labels = jnp.argmax(x[:, :3], axis=1)
    params = {"w": jax.random.normal(kw, (4, 3)) * 0.1, "b": jnp.zeros(3)}
    new_params, history = train(params, x, labels)
    for _, _, grads in history:
        assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.all(new_params["w"] == params["w"]))
