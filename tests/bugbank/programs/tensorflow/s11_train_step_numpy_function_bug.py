"""A keras.Model overrides train_step and passes its logits through a NumPy temperature-calibration helper wrapped in tf.numpy_function inside the tape: numpy_function has no gradient, so fit() gets no gradient for any weight.

Source: https://github.com/tensorflow/tensorflow/issues/47288
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


def np_calibrate(logits, temperature=1.5):
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class CalibratedClassifier(keras.Model):
    def __init__(self, n_classes=3):
        super().__init__()
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.head = keras.layers.Dense(n_classes)
        self.ce = keras.losses.SparseCategoricalCrossentropy()
        self.seen_grads = []

    def call(self, x, training=False):
        return self.head(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            logits = self(x, training=True)
            probs = tf.numpy_function(np_calibrate, [logits], tf.float32)  # BUG
            probs.set_shape(logits.shape)
            loss = self.ce(y, probs)
        grads = tape.gradient(loss, self.trainable_variables)
        self.seen_grads.append(grads)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(24, 5).astype("float32")
    y = np.random.randint(0, 3, size=(24,))
    model = CalibratedClassifier()
    model.compile(optimizer="adam", run_eagerly=True)
    try:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        raise AssertionError("fit should fail: no gradient reaches any weight")
    except ValueError as err:
        assert "No gradients provided" in str(err)
    assert model.seen_grads, "train_step ran"
    assert all(g is None for grads in model.seen_grads for g in grads), "no gradient crosses numpy_function"
