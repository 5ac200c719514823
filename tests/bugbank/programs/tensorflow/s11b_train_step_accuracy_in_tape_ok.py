"""A keras.Model overrides train_step and, inside the tape, also computes a batch accuracy with tf.argmax and a boolean tf.cast for its own tracker; the loss itself is the cross-entropy on the logits, so fit() trains every weight.

Source: https://theneuralbase.com/keras/learn/intermediate/when-to-override-train-step/
        https://kader-xai.github.io/mini-courses/tensorflow/day04.html
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class TrackedClassifier(keras.Model):
    def __init__(self, n_classes=3):
        super().__init__()
        self.body = keras.layers.Dense(16, activation="relu")
        self.out = keras.layers.Dense(n_classes)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_tracker = keras.metrics.Mean(name="acc")
        self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def call(self, x, training=False):
        return self.out(self.body(x))

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc_tracker]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            logits = self(x, training=True)
            loss = self.ce(y, logits)
            hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), tf.cast(y, tf.int32))
            acc = tf.reduce_mean(tf.cast(hits, tf.float32))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(acc)
        return {m.name: m.result() for m in self.metrics}


if __name__ == "__main__":
    tf.random.set_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = rng.integers(0, 3, size=32).astype("int32")
    model = TrackedClassifier()
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model(x)
    before = model.body.kernel.numpy().copy()
    hist = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert "acc" in hist.history
    assert not np.allclose(before, model.body.kernel.numpy())
