"""A saliency-map helper differentiates the class score with respect to the input image, a plain tensor the tape never watched: the map is None.

Source: https://github.com/tensorflow/tensorflow/issues/29942
        https://github.com/tensorflow/tensorflow/issues/56968
        https://github.com/fchollet/deep-learning-with-python-notebooks/pull/284
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


def make_classifier():
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3),
    ])


def saliency_map(model, image, class_index):
    image = tf.convert_to_tensor(image[None], dtype=tf.float32)  # BUG
    with tf.GradientTape() as tape:
        scores = model(image, training=False)
        target = scores[:, class_index]
    grads = tape.gradient(target, image)  # BUG
    if grads is None:
        return None
    return tf.reduce_max(tf.abs(grads), axis=-1)[0]


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    clf = make_classifier()
    picture = np.random.rand(8, 8, 1).astype("float32")
    heat = saliency_map(clf, picture, class_index=1)
    assert heat is None, "the input was never watched, so its gradient is None"
