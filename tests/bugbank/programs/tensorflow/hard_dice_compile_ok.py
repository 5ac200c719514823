"""The segmentation model trains on a soft Dice loss over the sigmoid probabilities; the thresholded Dice is only a reported metric, so fit() gets gradients.

Source: https://github.com/j-c-carr/lightcones/issues/21
        https://github.com/tensorflow/tensorflow/issues/8625
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


def soft_dice_loss(y_true, y_pred, smooth=1.0):
    inter = tf.reduce_sum(y_true * y_pred)
    total = tf.reduce_sum(y_true) + tf.reduce_sum(y_pred)
    return 1.0 - (2.0 * inter + smooth) / (total + smooth)


def hard_dice(y_true, y_pred, smooth=1.0):
    mask = tf.cast(y_pred > 0.5, tf.float32)
    inter = tf.reduce_sum(y_true * mask)
    total = tf.reduce_sum(y_true) + tf.reduce_sum(mask)
    return (2.0 * inter + smooth) / (total + smooth)


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
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=soft_dice_loss, metrics=[hard_dice])
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(images, masks, epochs=1, batch_size=4, verbose=0)
    moved = [not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    assert all(moved), moved
