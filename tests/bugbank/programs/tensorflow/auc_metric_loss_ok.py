"""A tf_keras model overrides train_step: the tape holds the compiled binary cross-entropy, and an AUC metric and a loss tracker are updated after the tape only for reporting, so the weights train.

Source: https://errorhandle.ai/add-auc-as-loss-function-for-keras
        https://github.com/keras-team/keras-io/pull/1630
Label: clean
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import tf_keras as keras


class Scorer(keras.Model):
    def __init__(self):
        super().__init__()
        self.body = keras.layers.Dense(6, activation="relu")
        self.head = keras.layers.Dense(1, activation="sigmoid")
        self.auc = keras.metrics.AUC(num_thresholds=50, name="auc")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training=False):
        return self.head(self.body(x))

    @property
    def metrics(self):
        return [self.loss_tracker, self.auc]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            prob = self(x, training=True)
            loss = self.compiled_loss(y, prob, regularization_losses=self.losses)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.auc.update_state(y, prob)
        return {m.name: m.result() for m in self.metrics}


tf.random.set_seed(4)
rng = np.random.default_rng(4)
x = rng.normal(size=(32, 5)).astype("float32")
y = (rng.uniform(size=(32, 1)) > 0.5).astype("float32")
model = Scorer()
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.BinaryCrossentropy())
model(x[:1])
before = model.head.kernel.numpy().copy()
model.fit(x, y, epochs=1, batch_size=16, verbose=0)
assert np.abs(model.head.kernel.numpy() - before).sum() > 0
