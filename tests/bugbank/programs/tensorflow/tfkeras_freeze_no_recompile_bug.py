"""A tf_keras GAN-style loop toggles discriminator.trainable between train_on_batch calls without recompiling: the discriminator keeps learning.

Source: https://github.com/osh/KerasGAN/issues/10
        https://github.com/jacobgil/keras-dcgan/issues/19
Label: buggy
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import tf_keras as keras


def make_trainable(net, flag):
    net.trainable = flag
    for layer in net.layers:
        layer.trainable = flag


tf.random.set_seed(0)
np.random.seed(0)
disc = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
disc.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")

x = np.random.rand(16, 3).astype("float32")
labels = np.random.randint(0, 2, (16, 1)).astype("float32")
disc.train_on_batch(x, labels)

make_trainable(disc, False)  # BUG
kernel = disc.layers[0].kernel.numpy().copy()
disc.train_on_batch(x, labels)  # BUG
assert not np.allclose(kernel, disc.layers[0].kernel.numpy()), "still trains without recompile"
