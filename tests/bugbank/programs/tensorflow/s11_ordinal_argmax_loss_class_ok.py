"""An ordinal-rating model is compiled with a soft expected-rating loss (softmax probabilities times the level indices) and reports the hard argmax distance only as a metric: the loss is differentiable and the weights train.

Source: https://stackoverflow.com/questions/46926809
        https://py4u.org/questions/46926809/
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class ExpectedRatingDistance(keras.losses.Loss):
    def __init__(self, n_levels=5, name="expected_rating_distance"):
        super().__init__(name=name)
        self.levels = tf.range(n_levels, dtype=tf.float32)

    def call(self, y_true, y_pred):
        expected = tf.reduce_sum(y_pred * self.levels, axis=-1)
        target = tf.cast(tf.reshape(y_true, [-1]), tf.float32)
        return tf.abs(expected - target)


def hard_rating_error(y_true, y_pred):
    predicted = tf.cast(tf.argmax(y_pred, axis=-1), tf.float32)
    return tf.abs(predicted - tf.cast(tf.reshape(y_true, [-1]), tf.float32))


def rating_model(n_features=6, n_levels=5):
    model = keras.Sequential([
        keras.Input((n_features,)),
        keras.layers.Dense(12, activation="relu"),
        keras.layers.Dense(n_levels, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=ExpectedRatingDistance(n_levels),
                  metrics=[hard_rating_error])
    return model


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 6).astype("float32")
    y = np.random.randint(0, 5, size=(32, 1))
    model = rating_model()
    before = model.layers[0].kernel.numpy().copy()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(before, model.layers[0].kernel.numpy()), "the weights train"
