"""The feature-scaling layer creates its scale once in build() with add_weight; call() only reads it, so training learns the scale.

Source: https://github.com/keras-team/keras/issues/11736
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras


class FeatureScale(keras.layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x):
        return x * self.scale


def train(model, x, y, steps=3):
    opt = keras.optimizers.SGD(0.5)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    return grads


tf.random.set_seed(0)
layer = FeatureScale()
x = tf.random.normal([8, 3])
y = 2.0 * x
out_before = layer(x)
grads = train(layer, x, y)
assert len(layer.trainable_variables) == 1 and grads[0] is not None
assert not bool(tf.reduce_all(layer(x) == out_before))
