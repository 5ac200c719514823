"""A learnable margin is created as a tf.Variable inside a loss factory given to compile(): the model does not own it, so fit() never updates the margin.

Source: https://github.com/keras-team/keras/issues/12503
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


def make_margin_loss():
    margin = tf.Variable(1.0, trainable=True, name="margin")  # BUG

    def margin_loss(y_true, y_pred):
        signed = (2.0 * y_true - 1.0) * y_pred
        return tf.reduce_mean(tf.nn.relu(margin - signed)) + 0.1 * tf.square(margin)

    margin_loss.margin = margin
    return margin_loss


keras.utils.set_random_seed(0)
x = np.random.rand(32, 4).astype("float32")
y = (x[:, :1] > 0.5).astype("float32")
loss_fn = make_margin_loss()
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss_fn)
kernel_before = model.layers[0].kernel.numpy().copy()
model.fit(x, y, epochs=2, batch_size=8, verbose=0)
assert not np.allclose(kernel_before, model.layers[0].kernel.numpy())
assert float(loss_fn.margin.numpy()) == 1.0, "the margin is never trained"
