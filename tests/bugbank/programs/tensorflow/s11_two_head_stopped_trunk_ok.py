"""A two-head Keras model stops the gradient only on the auxiliary head's input, as intended: the main head still trains the shared trunk, the auxiliary head trains only itself.

Source: https://stackoverflow.com/questions/51986825
        https://example-a.com/answer/51986825
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers, Model


class TwoHeads(Model):
    def __init__(self):
        super().__init__()
        self.trunk = tf.keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(16, activation="relu")])
        self.main_head = layers.Dense(2)
        self.aux_head = layers.Dense(1)

    def aux_branch(self, feats):
        # the probe must not shape the trunk
        return self.aux_head(tf.stop_gradient(feats))

    def call(self, x):
        feats = self.trunk(x)
        return self.main_head(feats), self.aux_branch(feats)


def joint_loss(model, x, y_main, y_aux):
    main, aux = model(x)
    ce = tf.keras.losses.sparse_categorical_crossentropy(y_main, main, from_logits=True)
    return tf.reduce_mean(ce) + 0.1 * tf.reduce_mean(tf.square(aux - y_aux))


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5)).astype("float32")
    y_main = rng.integers(0, 2, size=(8,))
    y_aux = rng.normal(size=(8, 1)).astype("float32")
    model = TwoHeads()
    model(x)
    with tf.GradientTape() as tape:
        loss = joint_loss(model, x, y_main, y_aux)
    grads = tape.gradient(loss, model.trunk.trainable_variables + model.aux_head.trainable_variables)
    assert all(g is not None for g in grads), "the trunk and the probe get gradients"
    assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0.0
