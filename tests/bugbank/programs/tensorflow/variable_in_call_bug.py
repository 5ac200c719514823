"""A custom scaling layer creates its tf.Variable inside call(): every forward pass starts from a fresh ones-initialised variable, so training never changes the layer.

Source: https://github.com/keras-team/keras/issues/11736
        https://github.com/keras-team/keras/issues/12503
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras


class FeatureScale(keras.layers.Layer):
    def call(self, x):
        scale = tf.Variable(tf.ones([x.shape[-1]]), name="scale")  # BUG
        return x * scale


def train(model, x, y, steps=3):
    opt = keras.optimizers.SGD(0.5)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        if grads:
            opt.apply_gradients(zip(grads, model.trainable_variables))


if __name__ == "__main__":
    tf.random.set_seed(0)
    layer = FeatureScale()
    x = tf.random.normal([8, 3])
    y = 2.0 * x
    out_before = layer(x)
    train(layer, x, y)
    assert layer.trainable_variables == []
    assert bool(tf.reduce_all(layer(x) == out_before)), "the layer never learns"
