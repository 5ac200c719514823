"""A functional Keras model meant to stop only an auxiliary branch's gradient wraps the shared features in Lambda(ops.stop_gradient) on the main path: the backbone never receives a gradient from the only loss.

Source: https://github.com/keras-team/keras/issues/11460
        https://github.com/keras-team/keras/issues/9246
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import keras
from keras import layers, ops


def build(n_in=6, n_classes=3):
    inputs = keras.Input((n_in,))
    backbone = layers.Dense(8, activation="relu", name="backbone")
    features = backbone(inputs)
    frozen = layers.Lambda(lambda t: ops.stop_gradient(t))(features)  # BUG
    logits = layers.Dense(n_classes, name="head")(frozen)
    return keras.Model(inputs, logits), backbone


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    model, backbone = build()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.integers(0, 3, 16)
    kernel_before = backbone.kernel.numpy().copy()
    head_before = model.get_layer("head").kernel.numpy().copy()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.array_equal(kernel_before, backbone.kernel.numpy())
    assert not np.array_equal(head_before, model.get_layer("head").kernel.numpy())
