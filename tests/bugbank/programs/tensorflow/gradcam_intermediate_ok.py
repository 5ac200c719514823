"""Grad-CAM differentiates the class score with respect to the last conv feature map, an intermediate tensor computed inside the tape (no watch needed): the gradient arrives.

Source: https://github.com/tensorflow/tensorflow/issues/62797
        https://github.com/tensorflow/tensorflow/issues/29942
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


def make_cam_model():
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3, activation="relu", name="last_conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(conv)
    preds = keras.layers.Dense(3)(pooled)
    return keras.Model(inputs, [conv, preds])


def grad_cam(cam_model, image, class_index):
    batch = tf.constant(image[None])
    with tf.GradientTape() as tape:
        conv_maps, preds = cam_model(batch)
        score = preds[:, class_index]
    grads = tape.gradient(score, conv_maps)
    weights = tf.reduce_mean(grads, axis=(1, 2))
    cam = tf.nn.relu(tf.reduce_sum(conv_maps * weights[:, None, None, :], axis=-1))
    return grads, cam[0]


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    cam_model = make_cam_model()
    picture = np.random.rand(8, 8, 1).astype("float32")
    grads, cam = grad_cam(cam_model, picture, class_index=2)
    assert grads is not None and float(tf.reduce_sum(tf.abs(grads))) > 0.0
    assert cam.shape == (6, 6)
