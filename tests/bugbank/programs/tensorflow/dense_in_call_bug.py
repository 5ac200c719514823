"""A wrapper layer instantiates its Dense sub-layer inside call(): each forward pass builds a new Dense, so fit() optimises nothing that persists.

Source: https://github.com/keras-team/keras/issues/11736
        https://github.com/calmiLovesAI/Basic_CNNs_TensorFlow2/issues/13
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
from tensorflow import keras


class Projection(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        return keras.layers.Dense(self.units, kernel_initializer="ones")(inputs)  # BUG


class Model(keras.Model):
    def __init__(self):
        super().__init__()
        self.proj = Projection(2)

    def call(self, x):
        return self.proj(x)


tf.random.set_seed(0)
model = Model()
x = tf.random.normal([8, 3])
y = tf.random.normal([8, 2])
first = model(x)
opt = keras.optimizers.SGD(0.1)
for _ in range(2):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    assert grads == [] or all(g is None for g in grads)
assert model.trainable_variables == []
assert bool(tf.reduce_all(model(x) == first)), "the model output never changes"
