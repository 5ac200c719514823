"""Binary segmentation-style model in JAX whose soft-Dice loss thresholds the prediction with `> 0.5` first.

Source: https://github.com/eriklindernoren/Keras-GAN/issues/61
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def predict(params, x):
    return jax.nn.sigmoid(x @ params["w"] + params["b"])


def dice_loss(params, x, mask):
    probs = predict(params, x)
    hard = (probs > 0.5).astype(jnp.float32)  # BUG
    inter = jnp.sum(hard * mask)
    return 1.0 - (2.0 * inter + 1.0) / (jnp.sum(hard) + jnp.sum(mask) + 1.0)


if __name__ == "__main__":
    key = jax.random.PRNGKey(2)
    x = jax.random.normal(key, (20, 6))
    mask = (x[:, 0] > 0).astype(jnp.float32)
    params = {"w": jax.random.normal(key, (6,)) * 0.1, "b": jnp.array(0.0)}
    value, grads = jax.value_and_grad(dice_loss)(params, x, mask)
    assert 0.0 <= float(value) <= 1.0
    assert float(jnp.abs(grads["w"]).sum()) == 0.0 and float(grads["b"]) == 0.0
