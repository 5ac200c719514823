"""A Trainer class's loss helper clips the predicted probabilities with NumPy inside the tape, so the loss is a constant and every weight gradient is None.

Source: https://github.com/tensorflow/tensorflow/issues/50111
        https://github.com/tensorflow/tensorflow/issues/36596
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def build_classifier():
    return tf.keras.Sequential([
        tf.keras.Input((4,)),
        tf.keras.layers.Dense(8, activation="relu"),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.opt = tf.keras.optimizers.SGD(lr)
        self.history = []

    def _bce(self, labels, probs):
        p = np.clip(probs.numpy(), 1e-6, 1.0 - 1e-6)  # BUG
        ce = -(labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p))
        return tf.convert_to_tensor(ce.mean(), dtype=tf.float32)

    def step(self, x, y):
        with tf.GradientTape() as tape:
            probs = self.model(x, training=True)
            loss = self._bce(y, probs)
        grads = tape.gradient(loss, self.model.trainable_variables)
        pairs = [(g, v) for g, v in zip(grads, self.model.trainable_variables) if g is not None]
        if pairs:
            self.opt.apply_gradients(pairs)
        self.history.append(float(loss))
        return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    trainer = Trainer(build_classifier())
    grads = trainer.step(tf.constant(x), y)
    assert all(g is None for g in grads)
