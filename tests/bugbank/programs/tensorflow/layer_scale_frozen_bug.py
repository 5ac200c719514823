"""A custom Keras layer creates its learnable output scale with add_weight(trainable=False) (copied from a fixed-weight example), so the scale is a non-trainable weight that the fit loop never updates while the kernel trains.

Source: https://techhoarde.com/understanding-non_trainable_weights-in-keras-a-complete-guide-with-examples-by-karthik-karunakaran-ph-d-mar-2025
        https://taourl.com/read-2645454.html
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class ScaledDense(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", trainable=False, name="scale")  # BUG

    def call(self, inputs):
        return tf.matmul(inputs, self.kernel) * self.scale


keras.utils.set_random_seed(11)
inputs = keras.Input((4,))
outputs = ScaledDense(2)(inputs)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
x = np.random.default_rng(11).normal(size=(32, 4)).astype("float32")
y = 3.0 * x[:, :2]
layer = model.layers[-1]
k0 = layer.kernel.numpy().copy()
model.fit(x, y, epochs=2, batch_size=16, verbose=0)
assert np.array_equal(layer.scale.numpy(), np.ones(2, "float32"))
assert np.abs(layer.kernel.numpy() - k0).sum() > 0
