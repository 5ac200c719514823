"""A two-network regression loop computes the critic's gradients but applies them to the actor's variables (same shapes): the critic never moves.

Source: https://github.com/tensorforce/tensorforce/pull/81
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf
from tensorflow import keras


def make_net():
    return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])


class Trainer:
    def __init__(self):
        self.actor = make_net()
        self.critic = make_net()
        self.actor_opt = keras.optimizers.SGD(0.05)
        self.critic_opt = keras.optimizers.SGD(0.05)

    def critic_step(self, states, returns):
        with tf.GradientTape() as tape:
            values = self.critic(states)
            loss = tf.reduce_mean(tf.square(values - returns))
        grads = tape.gradient(loss, self.critic.trainable_variables)
        self.critic_opt.apply_gradients(zip(grads, self.actor.trainable_variables))  # BUG
        return loss


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    keras.utils.set_random_seed(5)
    trainer = Trainer()
    states = np.random.rand(8, 3).astype("float32")
    returns = np.random.rand(8, 1).astype("float32")
    before = [v.numpy().copy() for v in trainer.critic.trainable_variables]
    for _ in range(2):
        trainer.critic_step(states, returns)
    after = [v.numpy() for v in trainer.critic.trainable_variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "critic unchanged: its gradients went to the actor"
