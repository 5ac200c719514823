"""Online linear regressor class whose loss takes the sample first: jax.grad differentiates the input, and the weights are moved by the input's gradient.

Source: https://github.com/jax-ml/jax/issues/578
        https://github.com/jax-ml/jax/issues/435
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


class OnlineRegressor:
    def __init__(self, n_features, lr=0.05):
        self.weights = jnp.zeros(n_features)
        self.lr = lr
        self.grad_fn = jax.jit(jax.grad(self._loss))  # BUG

    @staticmethod
    def _loss(inputs, weights, target):
        return (jnp.dot(inputs, weights) - target) ** 2

    def observe(self, inputs, target):
        g = self.grad_fn(inputs, self.weights, target)
        self.weights = self.weights - self.lr * g
        return g


if __name__ == "__main__":
    true_w = jnp.array([1.5, -2.0, 0.5])
    xs = jax.random.normal(jax.random.PRNGKey(0), (3, 3))
    model = OnlineRegressor(3)
    model.weights = jnp.array([0.1, 0.2, 0.3])
    for x in xs:
        w_before = model.weights
        used = model.observe(x, jnp.dot(x, true_w))
        wanted = jax.grad(OnlineRegressor._loss, argnums=1)(x, w_before, jnp.dot(x, true_w))
        assert not bool(jnp.allclose(used, wanted))
