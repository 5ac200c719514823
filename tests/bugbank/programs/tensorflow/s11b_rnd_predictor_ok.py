"""Random Network Distillation: a fixed random target network (trainable=False) embeds the observation, a predictor learns to match it under tf.stop_gradient; the intrinsic reward is read with .numpy() after the update for the rollout buffer. The predictor trains.

Source: https://github.com/openai/random-network-distillation/issues/11
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers


class RNDModule:
    def __init__(self, obs_dim, emb_dim=8, lr=1e-3):
        self.target = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(emb_dim)])
        self.predictor = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(emb_dim)])
        dummy = tf.zeros((1, obs_dim))
        self.target(dummy)
        self.predictor(dummy)
        self.target.trainable = False
        self.opt = keras.optimizers.Adam(lr)

    def errors(self, obs):
        goal = tf.stop_gradient(self.target(obs))
        return tf.reduce_mean(tf.square(goal - self.predictor(obs)), axis=-1)

    def update(self, obs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(self.errors(obs))
        grads = tape.gradient(loss, self.predictor.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.predictor.trainable_variables))
        return grads

    def intrinsic_reward(self, obs):
        return self.errors(obs).numpy()


if __name__ == "__main__":
    tf.random.set_seed(1)
    obs = np.random.default_rng(1).normal(size=(12, 6)).astype("float32")
    rnd = RNDModule(obs_dim=6)
    before = rnd.predictor.trainable_variables[0].numpy().copy()
    grads = rnd.update(obs)
    bonus = rnd.intrinsic_reward(obs)
    assert bonus.shape == (12,)
    assert all(g is not None for g in grads)
    assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0.0
    assert not np.allclose(before, rnd.predictor.trainable_variables[0].numpy())
    assert len(rnd.target.trainable_variables) == 0
