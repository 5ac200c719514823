"""Contrastive-style loss object in plain JAX: its normalising method calls float() on the std of the logits, which are traced under jax.grad, so the step raises at once instead of training.

Source: https://github.com/jax-ml/jax/issues/2783
        https://github.com/quantumlib/OpenFermion/pull/1396
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


class ScaledSoftmaxLoss:
    def __init__(self, floor=1e-3):
        self.floor = floor

    def normalise(self, logits):
        spread = float(jnp.std(logits))  # BUG
        return logits / max(spread, self.floor)

    def __call__(self, logits, labels):
        logits = self.normalise(logits)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def embed(params, x):
    return jnp.tanh(x @ params["proj"]) @ params["classes"]


def objective(params, x, labels, criterion):
    return criterion(embed(params, x), labels)


if __name__ == "__main__":
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {"proj": jax.random.normal(k1, (4, 8)), "classes": jax.random.normal(k2, (8, 3))}
    x = jax.random.normal(k3, (10, 4))
    labels = jnp.arange(10) % 3
    criterion = ScaledSoftmaxLoss()
    baseline = float(objective(params, x, labels, criterion))  # fine outside the gradient
    try:
        jax.grad(objective)(params, x, labels, criterion)
    except (TypeError, jax.errors.ConcretizationTypeError):
        pass
    else:
        raise AssertionError("float() on a traced value should have raised")
