"""Legacy Keras (tf_keras) tracks a raw tf.Variable set on a layer, so the learnable gate is trained by fit().

Source: https://github.com/keras-team/tf-keras/issues/513
Label: clean
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import tf_keras as keras


class GatedDense(keras.layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.dense = keras.layers.Dense(units)
        self.gate = tf.Variable(0.5, name="gate")

    def call(self, x):
        return tf.sigmoid(self.gate) * self.dense(x)


tf.random.set_seed(1)
np.random.seed(1)
x = np.random.rand(24, 5).astype("float32")
y = np.random.rand(24, 2).astype("float32")

layer = GatedDense(2)
model = keras.Sequential([keras.Input(shape=(5,)), layer])
model.compile(optimizer=keras.optimizers.SGD(0.3), loss="mse")
model.fit(x, y, epochs=2, batch_size=8, verbose=0)

assert any(v is layer.gate for v in model.trainable_variables)
assert float(layer.gate.numpy()) != 0.5, "the gate is trained under tf_keras"
