"""Transfer learning in a hand-written loop: a pretrained feature extractor is frozen (base.trainable = False) and run with training=False inside a functional model; the tape differentiates model.trainable_variables, which are the new head's, and the head trains.

Source: https://www.tensorflow.org/guide/keras/transfer_learning?hl=uk
        https://theneuralbase.com/tensorflow/learn/intermediate/fine-tuning-pretrained-layers/
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers


def pretrained_extractor():
    base = keras.Sequential([layers.Dense(12, activation="relu"), layers.BatchNormalization(), layers.Dense(6, activation="relu")])
    base.build((None, 8))
    return base


base = pretrained_extractor()
base.trainable = False

inputs = keras.Input(shape=(8,))
feats = base(inputs, training=False)
outputs = layers.Dense(1)(feats)
model = keras.Model(inputs, outputs)

opt = keras.optimizers.Adam(1e-2)
loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

rng = np.random.default_rng(6)
x = rng.normal(size=(16, 8)).astype("float32")
y = rng.integers(0, 2, size=(16, 1)).astype("float32")

head_before = model.layers[-1].kernel.numpy().copy()
base_before = base.layers[0].kernel.numpy().copy()
for epoch in range(2):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))

assert len(model.trainable_variables) == 2
assert all(g is not None for g in grads)
assert not np.allclose(head_before, model.layers[-1].kernel.numpy())
assert np.allclose(base_before, base.layers[0].kernel.numpy())
