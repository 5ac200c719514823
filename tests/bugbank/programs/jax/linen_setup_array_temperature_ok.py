"""Flax linen classifier with a learned log-temperature declared by self.param, next to a running logit mean kept on purpose in a non-trainable "batch_stats" variable updated with mutable=.

Source: https://hhhezhang.medium.com/how-to-manage-immutable-state-variables-in-flax-and-jax-f002dc9a4d72
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn


class CalibratedClassifier(nn.Module):
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        logits = nn.Dense(self.num_classes)(nn.relu(nn.Dense(16)(x)))
        running = self.variable("batch_stats", "mean_logit", lambda: jnp.zeros(self.num_classes))
        if train and not self.is_initializing():
            running.value = 0.9 * running.value + 0.1 * jnp.mean(jax.lax.stop_gradient(logits), axis=0)
        log_temperature = self.param("log_temperature", nn.initializers.zeros, ())
        return logits / jnp.exp(log_temperature)


def make_step(model, tx):
    @jax.jit
    def step(params, batch_stats, opt_state, x, y):
        def loss_fn(p):
            logits, updated = model.apply({"params": p, "batch_stats": batch_stats}, x, mutable=["batch_stats"])
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return loss, updated["batch_stats"]

        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), batch_stats, opt_state, loss, grads

    return step


if __name__ == "__main__":
    model = CalibratedClassifier()
    kx, ky, kp = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, (12, 6))
    y = jax.random.randint(ky, (12,), 0, 3)
    variables = model.init(kp, x)
    params, batch_stats = variables["params"], variables["batch_stats"]
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)
    step = make_step(model, tx)
    start = params
    for _ in range(3):
        params, batch_stats, opt_state, loss, grads = step(params, batch_stats, opt_state, x, y)
    assert float(grads["log_temperature"]) != 0.0
    assert float(params["log_temperature"]) != float(start["log_temperature"])
    assert bool(jnp.any(batch_stats["mean_logit"] != 0))
