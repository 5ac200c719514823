"""A bandit policy samples actions from tfd.Categorical and is trained by REINFORCE (log_prob times reward): the policy gets a gradient.

Source: https://github.com/tensorflow/tensorflow/issues/9260
Label: clean
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import tensorflow_probability as tfp
import keras

tfd = tfp.distributions

policy = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
opt = keras.optimizers.Adam(0.01)
payout = tf.constant([0.1, 0.2, 0.9, 0.3])


def reinforce_step(states):
    with tf.GradientTape() as tape:
        dist = tfd.Categorical(logits=policy(states))
        actions = dist.sample()
        rewards = tf.gather(payout, actions)
        baseline = tf.reduce_mean(rewards)
        loss = -tf.reduce_mean(dist.log_prob(actions) * (rewards - baseline + 0.05))
    grads = tape.gradient(loss, policy.trainable_variables)
    opt.apply_gradients(zip(grads, policy.trainable_variables))
    return grads


tf.random.set_seed(0)
grads = reinforce_step(tf.random.normal([64, 3]))
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
