"""An ordinal-rating model is compiled with a keras.losses.Loss subclass that scores the distance between the predicted class index (tf.argmax of the softmax) and the true rating: argmax has no gradient, so fit() finds no gradient for any weight.

Source: https://stackoverflow.com/questions/46926809
        https://py4u.org/questions/46926809/
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class RatingDistance(keras.losses.Loss):
    def __init__(self, name="rating_distance"):
        super().__init__(name=name)

    def call(self, y_true, y_pred):
        predicted = tf.cast(tf.argmax(y_pred, axis=-1), tf.float32)  # BUG
        target = tf.cast(tf.reshape(y_true, [-1]), tf.float32)
        return tf.abs(predicted - target)


def rating_model(n_features=6, n_levels=5):
    model = keras.Sequential([
        keras.Input((n_features,)),
        keras.layers.Dense(12, activation="relu"),
        keras.layers.Dense(n_levels, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=RatingDistance())
    return model


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 6).astype("float32")
    y = np.random.randint(0, 5, size=(32, 1))
    model = rating_model()
    try:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        raise AssertionError("fit should find no gradient")
    except ValueError as err:
        assert "No gradients provided" in str(err)
