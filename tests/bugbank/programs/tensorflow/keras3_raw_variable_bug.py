"""A Keras 3 layer keeps its learnable temperature in a raw tf.Variable: Keras 3 does not track it, so fit() never trains it.

Source: https://github.com/keras-team/keras/issues/16797
        https://github.com/keras-team/tf-keras/issues/513
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


class TemperedSoftmax(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.proj = keras.layers.Dense(units)
        self.temperature = tf.Variable(1.0, name="temperature")  # BUG

    def call(self, x):
        return tf.nn.softmax(self.proj(x) / self.temperature)


def build_model():
    inputs = keras.Input(shape=(4,))
    outputs = TemperedSoftmax(3, name="tempered")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    return model


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 4).astype("float32")
    y = keras.utils.to_categorical(np.random.randint(0, 3, 32), 3)
    model = build_model()
    layer = model.get_layer("tempered")
    kernel_before = layer.proj.kernel.numpy().copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert not np.allclose(kernel_before, layer.proj.kernel.numpy()), "the Dense part should train"
    assert all(v is not layer.temperature for v in model.trainable_variables)
    assert float(layer.temperature.numpy()) == 1.0, "temperature never moves"
