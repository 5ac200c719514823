"""A small Trainer class caches model.trainable_variables in its constructor, before the Sequential model (no input shape) has ever been called: the cached list is empty, the tape differentiates nothing and the model never trains.

Source: https://github.com/tensorflow/tensorflow/issues/26948
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.params = model.trainable_variables  # BUG
        self.opt = tf.keras.optimizers.SGD(lr)
        self.mse = tf.keras.losses.MeanSquaredError()

    def step(self, x, y):
        with tf.GradientTape() as tape:
            loss = self.mse(y, self.model(x))
        grads = tape.gradient(loss, self.params)
        if grads:
            self.opt.apply_gradients(zip(grads, self.params))
        return loss, grads


def perceptron():
    return tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"), tf.keras.layers.Dense(1)])


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    trainer = Trainer(perceptron())
    _, grads = trainer.step(x, y)
    before = [w.copy() for w in trainer.model.get_weights()]
    for _ in range(3):
        trainer.step(x, y)
    assert grads == [] and trainer.params == [], "the cached list stays empty"
    assert all(np.array_equal(a, b) for a, b in zip(before, trainer.model.get_weights())), "the model never moves"
