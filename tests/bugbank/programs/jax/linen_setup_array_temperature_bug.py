"""Flax linen classifier with a "learnable" log-temperature assigned in setup() as a bare jnp array: it is no variable of the module, so init/apply never put it in params and it keeps its initial value forever.

Source: https://hhhezhang.medium.com/how-to-manage-immutable-state-variables-in-flax-and-jax-f002dc9a4d72
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax.training import train_state


class CalibratedClassifier(nn.Module):
    num_classes: int = 3

    def setup(self):
        self.body = nn.Dense(16)
        self.head = nn.Dense(self.num_classes)
        self.log_temperature = jnp.zeros(())  # BUG

    def __call__(self, x):
        logits = self.head(nn.relu(self.body(x)))
        return logits / jnp.exp(self.log_temperature)


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits = state.apply_fn({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


if __name__ == "__main__":
    model = CalibratedClassifier()
    kx, ky, kp = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, (12, 6))
    y = jax.random.randint(ky, (12,), 0, 3)
    params = model.init(kp, x)["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(1e-2))
    for _ in range(3):
        state, loss = train_step(state, x, y)
    # the temperature was never a parameter: no gradient, no update, still exp(0) == 1
    assert "log_temperature" not in state.params
    assert set(state.params) == {"body", "head"}
    bound = model.bind({"params": state.params})
    assert float(bound.log_temperature) == 0.0
