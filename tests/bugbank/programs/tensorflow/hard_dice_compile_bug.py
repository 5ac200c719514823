"""A segmentation model is compiled with a Dice loss that thresholds the sigmoid output (y_pred > 0.5) before the overlap: the comparison has no gradient and fit() fails with "No gradients provided".

Source: https://github.com/j-c-carr/lightcones/issues/21
        https://github.com/tensorflow/tensorflow/issues/8625
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


def dice_loss(y_true, y_pred, smooth=1.0):
    mask = tf.cast(y_pred > 0.5, tf.float32)  # BUG
    inter = tf.reduce_sum(y_true * mask)
    total = tf.reduce_sum(y_true) + tf.reduce_sum(mask)
    return 1.0 - (2.0 * inter + smooth) / (total + smooth)


def build_unet_ish():
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    out = keras.layers.Conv2D(1, 1, activation="sigmoid")(h)
    return keras.Model(inp, out)


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 8, 8, 1)).astype("float32")
    masks = (rng.uniform(size=(8, 8, 8, 1)) > 0.5).astype("float32")
    model = build_unet_ish()
    model.compile(optimizer="adam", loss=dice_loss)
    try:
        model.fit(images, masks, epochs=1, batch_size=4, verbose=0)
    except ValueError as err:
        assert "gradient" in str(err).lower(), err
    else:
        raise AssertionError("fit trained through a thresholded Dice loss")
