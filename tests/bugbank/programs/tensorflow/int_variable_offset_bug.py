"""A hand-written linear fit declares its offset as tf.Variable(0), an int32 variable: the tape never differentiates integers, so the offset's gradient is None and it never moves.

Source: https://github.com/tensorflow/tensorflow/issues/27378
        https://github.com/keras-team/keras/issues/20058
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

slope = tf.Variable(0.5, name="slope")
offset = tf.Variable(0, name="offset")  # BUG
params = [slope, offset]
optimizer = tf.keras.optimizers.SGD(learning_rate=0.05)


def predict(x):
    return slope * x + tf.cast(offset, tf.float32)


def fit_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(predict(x) - y))
    grads = tape.gradient(loss, params)
    optimizer.apply_gradients(zip(grads, params))
    return grads


if __name__ == "__main__":
    xs = tf.linspace(-1.0, 1.0, 16)
    ys = 2.0 * xs + 3.0
    for _ in range(3):
        grads = fit_step(xs, ys)
    assert grads[1] is None
    assert int(offset.numpy()) == 0, "the integer offset never trains"
    assert float(slope.numpy()) != 0.5
