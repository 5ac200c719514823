"""A denoiser trains with a perceptual loss from a frozen feature network (`features.trainable = False`); the tape differentiates only the denoiser's variables, which train.

Source: https://github.com/eriklindernoren/Keras-GAN/issues/164
        https://github.com/0b01/SimGAN-Captcha/issues/1
Label: clean
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import tf_keras as keras

denoiser = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(6,)), keras.layers.Dense(6)])
features = keras.Sequential([keras.layers.Dense(5, activation="tanh", input_shape=(6,))])
# a pretrained feature extractor: only a judge, never trained here
features.trainable = False

optimizer = keras.optimizers.Adam(1e-2)


def perceptual_loss(clean, restored):
    return tf.reduce_mean(tf.square(features(clean) - features(restored)))


def train_step(noisy, clean):
    with tf.GradientTape() as tape:
        restored = denoiser(noisy, training=True)
        loss = perceptual_loss(clean, restored) + 0.1 * tf.reduce_mean(tf.square(restored - clean))
    grads = tape.gradient(loss, denoiser.trainable_variables)
    optimizer.apply_gradients(zip(grads, denoiser.trainable_variables))
    return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    clean = np.random.rand(16, 6).astype("float32")
    noisy = clean + 0.1 * np.random.randn(16, 6).astype("float32")
    frozen = [w.copy() for w in features.get_weights()]
    before = [w.copy() for w in denoiser.get_weights()]
    for _ in range(2):
        grads = train_step(tf.constant(noisy), tf.constant(clean))
    assert grads and all(g is not None for g in grads)
    assert not all(np.array_equal(a, b) for a, b in zip(before, denoiser.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(frozen, features.get_weights()))
