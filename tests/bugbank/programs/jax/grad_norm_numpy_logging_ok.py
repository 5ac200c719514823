"""Plain-JAX MLP classifier: float(), np.asarray and argmax run only on the values jax.value_and_grad returns (logging, gradient norm, accuracy), never inside the loss.

Source: https://github.com/jax-ml/jax/issues/2783
        https://github.com/jax-ml/jax/issues/2097
Label: clean
Family: jax
Frameworks: jax
"""
import numpy as np
import jax
import jax.numpy as jnp


def init_mlp(key, sizes):
    params = []
    for k, (m, n) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append({"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros(n)})
    return params


def forward(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def cross_entropy(params, x, labels):
    logp = jax.nn.log_softmax(forward(params, x))
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


loss_and_grad = jax.jit(jax.value_and_grad(cross_entropy))


def accuracy(params, x, labels):
    pred = np.asarray(jnp.argmax(forward(params, x), axis=1))
    return float((pred == np.asarray(labels)).mean())


def train(params, x, labels, steps=3, lr=0.5):
    log = []
    for step in range(steps):
        loss, grads = loss_and_grad(params, x, labels)
        gnorm = np.sqrt(sum(np.sum(np.asarray(g) ** 2) for g in jax.tree_util.tree_leaves(grads)))
        log.append((step, float(loss), float(gnorm), accuracy(params, x, labels)))
        params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
    return params, log


if __name__ == "__main__":
    kx, kp = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (32, 5))
    labels = (np.asarray(x[:, 0]) > 0).astype(int)
    labels = jnp.asarray(labels)
    params = init_mlp(kp, [5, 16, 2])
    _, grads = loss_and_grad(params, x, labels)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    new_params, log = train(params, x, labels)
    assert log[-1][1] < log[0][1]
    assert float(cross_entropy(new_params, x, labels)) < float(cross_entropy(params, x, labels))
