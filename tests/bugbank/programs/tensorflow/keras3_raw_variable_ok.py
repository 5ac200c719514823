"""A Keras 3 layer learns its temperature through add_weight and counts its calls in a non-trainable tf.Variable: the temperature trains.

Source: https://github.com/keras-team/keras/issues/16797
        https://github.com/keras-team/tf-keras/issues/513
Label: clean
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
        self.temperature = self.add_weight(shape=(), initializer="ones", name="temperature")
        # a step counter, never meant to be learned
        self.calls = tf.Variable(0, trainable=False, dtype=tf.int64)

    def call(self, x):
        self.calls.assign_add(1)
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
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert float(layer.temperature.numpy()) != 1.0, "temperature trains"
    assert int(layer.calls.numpy()) > 0
