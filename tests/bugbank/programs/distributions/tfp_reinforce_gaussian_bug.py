"""Keras REINFORCE with a TFP Normal policy: TFP's sample() is reparameterised, so log_prob of the unstopped action gives the mean layer zero gradient.

Source: https://github.com/tensorflow/tensorflow/issues/7236
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow import keras

tfd = tfp.distributions

mean_layer = keras.layers.Dense(1)
log_std = tf.Variable([-0.5])
optimizer = keras.optimizers.Adam(1e-2)


def reinforce_step(states, reward_fn):
    with tf.GradientTape() as tape:
        policy = tfd.Normal(loc=mean_layer(states), scale=tf.exp(log_std))
        actions = policy.sample()  # BUG
        rewards = reward_fn(actions)
        log_probs = policy.log_prob(actions)  # BUG
        loss = -tf.reduce_mean(log_probs * tf.stop_gradient(rewards - tf.reduce_mean(rewards)))
    variables = mean_layer.trainable_variables + [log_std]
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    states = tf.constant(np.random.default_rng(0).normal(size=(16, 3)), tf.float32)
    grads = reinforce_step(states, lambda a: -tf.square(a - 1.0))
    kernel_grad = grads[0]
    assert float(tf.reduce_max(tf.abs(kernel_grad))) == 0.0
    assert float(tf.reduce_sum(tf.abs(grads[2]))) > 0
