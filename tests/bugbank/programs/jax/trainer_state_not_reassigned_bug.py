"""Flax linen classifier trained through a Trainer class: the step calls state.apply_gradients but never stores the new state, so the weights never move.

Source: https://github.com/google/flax/issues/2467
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training import train_state


class SmallNet(nn.Module):
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(16)(x))
        return nn.Dense(self.classes)(h)


class Trainer:
    def __init__(self, module, sample, lr=0.1, seed=0):
        params = module.init(jax.random.PRNGKey(seed), sample)["params"]
        self.state = train_state.TrainState.create(
            apply_fn=module.apply, params=params, tx=optax.sgd(lr, momentum=0.9))
        self._value_and_grad = jax.jit(jax.value_and_grad(self._loss, has_aux=True))

    def _loss(self, params, x, y):
        logits = self.state.apply_fn({"params": params}, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, logits

    def step(self, x, y):
        (loss, _), grads = self._value_and_grad(self.state.params, x, y)
        self.state.apply_gradients(grads=grads)  # BUG
        return loss, grads

    def fit(self, x, y, epochs=3):
        history = []
        for _ in range(epochs):
            loss, grads = self.step(x, y)
            history.append(float(loss))
        return history, grads


def main():
    x = jax.random.normal(jax.random.PRNGKey(1), (12, 4))
    y = jnp.arange(12) % 3
    trainer = Trainer(SmallNet(), x[:1])
    start = trainer.state.params
    _, grads = trainer.fit(x, y)
    # the gradient is there, but it never reaches the stored parameters
    assert any(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), start, trainer.state.params)
    assert all(jax.tree_util.tree_leaves(same))
    assert int(trainer.state.step) == 0


if __name__ == "__main__":
    main()
