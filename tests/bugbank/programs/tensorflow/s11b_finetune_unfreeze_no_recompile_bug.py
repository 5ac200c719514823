"""Two-phase transfer learning: the backbone is frozen, the model compiled and fit; then backbone.trainable = True and fit() again without compile(): the compiled train function keeps the old trainable set, so the backbone never moves in phase two.

Source: https://www.tensorflow.org/guide/keras/transfer_learning?hl=uk
        https://www.tutorialspoint.com/how-can-tensorflow-and-pre-trained-model-be-used-for-fine-tuning
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers


def make_classifier(backbone):
    inputs = keras.Input(shape=(6,))
    x = backbone(inputs)
    return keras.Model(inputs, layers.Dense(3)(x))


def phase_one(model, backbone, x, y):
    backbone.trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)


def phase_two(model, backbone, x, y):
    backbone.trainable = True  # BUG
    model.fit(x, y, epochs=1, verbose=0)  # BUG


if __name__ == "__main__":
    keras.utils.set_random_seed(10)
    rng = np.random.default_rng(10)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 3, size=32)
    backbone = keras.Sequential([layers.Dense(8, activation="relu")])
    model = make_classifier(backbone)
    phase_one(model, backbone, x, y)
    before = backbone.layers[0].kernel.numpy().copy()
    phase_two(model, backbone, x, y)
    assert np.allclose(before, backbone.layers[0].kernel.numpy()), "phase two never trained the backbone"
