"""A custom loop calls a scoring helper inside the tape that returns model(x).numpy(); the loss is rebuilt from the array and no weight gets a gradient.

Source: https://discuss.tensorflow.org/t/where-does-the-tape-break-after-all/20305
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf
import keras


def scores(net, batch):
    return net(batch, training=True).numpy()  # BUG


def train(net, optimizer, data, labels, epochs=2):
    grads = None
    for _ in range(epochs):
        with tf.GradientTape() as tape:
            predicted = scores(net, data)
            loss = tf.reduce_mean(tf.square(tf.convert_to_tensor(predicted) - labels))
        grads = tape.gradient(loss, net.trainable_variables)
        if any(g is not None for g in grads):
            optimizer.apply_gradients(zip(grads, net.trainable_variables))
    return grads


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    keras.utils.set_random_seed(4)
    net = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    data = np.random.rand(6, 2).astype("float32")
    labels = np.random.rand(6, 1).astype("float32")
    grads = train(net, keras.optimizers.Adam(0.01), data, labels)
    assert all(g is None for g in grads), "the helper's .numpy() cut the tape"
