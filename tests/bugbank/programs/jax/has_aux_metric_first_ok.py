"""Plain-JAX softmax classifier: the loss function returns (loss, {"accuracy": ...}) to value_and_grad(has_aux=True), so the cross-entropy is differentiated and the argmax accuracy rides along as aux.

Source: https://github.com/jax-ml/jax/pull/484
        https://github.com/jax-ml/jax/issues/6213
Label: clean
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
    return loss, {"accuracy": accuracy}


grad_fn = jax.value_and_grad(loss_and_metrics, has_aux=True)


def train(params, x, labels, steps=3):
    tx = optax.sgd(0.5)
    opt_state = tx.init(params)
    history = []
    for _ in range(steps):
        (loss, metrics), grads = grad_fn(params, x, labels)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
        history.append((float(metrics["accuracy"]), float(loss), grads))
    return params, history


if __name__ == "__main__":
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (20, 4))
    labels = jnp.argmax(x[:, :3], axis=1)
    params = {"w": jax.random.normal(kw, (4, 3)) * 0.1, "b": jnp.zeros(3)}
    new_params, history = train(params, x, labels)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(history[0][2]))
    assert history[-1][1] < history[0][1]
