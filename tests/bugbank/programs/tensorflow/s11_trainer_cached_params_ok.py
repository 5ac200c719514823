"""The same Trainer class builds the model with its input shape before caching model.trainable_variables, so the cached list holds the weights and the model trains.

Source: https://github.com/tensorflow/tensorflow/issues/26948
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


class Trainer:
    def __init__(self, model, n_features, lr=0.05):
        self.model = model
        self.model.build((None, n_features))
        self.params = model.trainable_variables
        self.opt = tf.keras.optimizers.SGD(lr)
        self.mse = tf.keras.losses.MeanSquaredError()

    def step(self, x, y):
        with tf.GradientTape() as tape:
            loss = self.mse(y, self.model(x))
        grads = tape.gradient(loss, self.params)
        self.opt.apply_gradients(zip(grads, self.params))
        return loss, grads


def perceptron():
    return tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"), tf.keras.layers.Dense(1)])


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    trainer = Trainer(perceptron(), n_features=3)
    before = [w.copy() for w in trainer.model.get_weights()]
    _, grads = trainer.step(x, y)
    assert len(grads) == 4 and all(g is not None for g in grads)
    assert not np.array_equal(before[-1], trainer.model.get_weights()[-1]), "the model trains"
