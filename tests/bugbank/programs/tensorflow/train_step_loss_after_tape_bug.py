"""A metric-learning model overrides train_step and calls self.compute_loss after the GradientTape block: the loss is not recorded, so the embedding gets no gradient.

Source: https://github.com/keras-team/keras-io/pull/1630
        https://github.com/tensorflow/tensorflow/issues/31265
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


class EmbeddingModel(keras.Model):
    def train_step(self, data):
        anchors, positives = data[0]
        with tf.GradientTape() as tape:
            a = self(anchors, training=True)
            p = self(positives, training=True)
            similarities = tf.einsum("ae,pe->ap", a, p)
        sparse_labels = tf.range(tf.shape(anchors)[0])
        loss = self.compute_loss(y=sparse_labels, y_pred=similarities)  # BUG
        grads = tape.gradient(loss, self.trainable_variables)
        self.last_grads = grads
        return {"loss": loss}


inp = keras.Input((5,))
out = keras.layers.Dense(3)(inp)
model = EmbeddingModel(inp, out)
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

tf.random.set_seed(0)
rng = np.random.default_rng(0)
anchors = rng.normal(size=(4, 5)).astype("float32")
positives = anchors + 0.1 * rng.normal(size=(4, 5)).astype("float32")
model.fit((anchors, positives), epochs=1, batch_size=4, verbose=0)
assert all(g is None for g in model.last_grads), model.last_grads
