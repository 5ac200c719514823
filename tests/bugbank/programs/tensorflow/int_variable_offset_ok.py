"""A hand-written linear fit keeps an integer step counter, tf.Variable(0), and reads it inside the tape for a warm-up factor; the learned slope and offset are floats and train.

Source: https://github.com/tensorflow/tensorflow/issues/27378
        https://github.com/keras-team/keras/issues/20058
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

slope = tf.Variable(0.5, name="slope")
offset = tf.Variable(0.0, name="offset")
step = tf.Variable(0, name="step")
params = [slope, offset]
optimizer = tf.keras.optimizers.SGD(learning_rate=0.05)


def predict(x):
    return slope * x + offset


def fit_step(x, y):
    with tf.GradientTape() as tape:
        warmup = tf.minimum(1.0, tf.cast(step + 1, tf.float32) / 4.0)
        loss = warmup * tf.reduce_mean(tf.square(predict(x) - y))
    grads = tape.gradient(loss, params)
    optimizer.apply_gradients(zip(grads, params))
    step.assign_add(1)
    return grads


if __name__ == "__main__":
    xs = tf.linspace(-1.0, 1.0, 16)
    ys = 2.0 * xs + 3.0
    for _ in range(3):
        grads = fit_step(xs, ys)
    assert all(g is not None for g in grads)
    assert float(offset.numpy()) != 0.0 and float(slope.numpy()) != 0.5
    assert int(step.numpy()) == 3
