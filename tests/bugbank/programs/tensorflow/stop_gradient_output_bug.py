"""A two-stage model wraps its encoder output in tf.stop_gradient inside call(): fit() trains the head but the encoder never moves.

Source: https://github.com/bourdakos1/capsule-networks/issues/9
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf
import keras


class TwoStage(keras.Model):
    def __init__(self):
        super().__init__()
        self.encoder = keras.layers.Dense(6, activation="relu")
        self.head = keras.layers.Dense(1)

    def call(self, x):
        features = tf.stop_gradient(self.encoder(x))  # BUG
        return self.head(features)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 4).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    model = TwoStage()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model(x[:1])
    enc_before = model.encoder.kernel.numpy().copy()
    head_before = model.head.kernel.numpy().copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert not np.allclose(head_before, model.head.kernel.numpy())
    assert np.array_equal(enc_before, model.encoder.kernel.numpy()), "encoder frozen by stop_gradient"
