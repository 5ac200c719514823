"""A Trainer class clips probabilities with TensorFlow ops inside the tape and uses NumPy only to log the loss and accuracy afterwards: the weights get gradients.

Source: https://github.com/tensorflow/tensorflow/issues/50111
        https://github.com/tensorflow/tensorflow/issues/36596
Label: clean
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
        p = tf.clip_by_value(probs, 1e-6, 1.0 - 1e-6)
        ce = -(labels * tf.math.log(p) + (1.0 - labels) * tf.math.log(1.0 - p))
        return tf.reduce_mean(ce)

    def step(self, x, y):
        with tf.GradientTape() as tape:
            probs = self.model(x, training=True)
            loss = self._bce(y, probs)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.model.trainable_variables))
        hits = np.mean((probs.numpy() > 0.5) == (y > 0.5))
        self.history.append((float(loss.numpy()), float(hits)))
        return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    trainer = Trainer(build_classifier())
    grads = trainer.step(tf.constant(x), y)
    assert all(g is not None for g in grads)
    assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
