"""A keras.Model with a custom train_step uses tf.numpy_function only in its tf.data pipeline (a NumPy jitter on the raw features) and computes the calibrated probabilities with TF ops inside the tape: every weight gets a gradient.

Source: https://github.com/tensorflow/tensorflow/issues/47288
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


def np_jitter(x):
    rng = np.random.default_rng(0)
    return (x + 0.01 * rng.normal(size=x.shape)).astype(np.float32)


def make_dataset(x, y, batch_size=8):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.map(lambda a, b: (tf.ensure_shape(tf.numpy_function(np_jitter, [a], tf.float32), a.shape), b))
    return ds.batch(batch_size)


class CalibratedClassifier(keras.Model):
    def __init__(self, n_classes=3, temperature=1.5):
        super().__init__()
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.head = keras.layers.Dense(n_classes)
        self.temperature = temperature
        self.ce = keras.losses.SparseCategoricalCrossentropy()
        self.seen_grads = []

    def call(self, x, training=False):
        return self.head(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            logits = self(x, training=True)
            probs = tf.nn.softmax(logits / self.temperature, axis=1)
            loss = self.ce(y, probs)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.seen_grads.append(grads)
        return {"loss": loss}


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(24, 5).astype("float32")
    y = np.random.randint(0, 3, size=(24,))
    model = CalibratedClassifier()
    model.compile(optimizer="adam", run_eagerly=True)
    model.fit(make_dataset(x, y), epochs=1, verbose=0)
    assert model.seen_grads
    assert all(g is not None for g in model.seen_grads[0])
    assert float(tf.reduce_sum(tf.abs(model.seen_grads[0][0]))) > 0.0
