"""A tf_keras transfer-learning script freezes a pretrained backbone on purpose, compiles and fits the new head, then unfreezes the backbone and recompiles before fine-tuning; the head trains first and the backbone trains in the second phase.

Source: https://theneuralbase.com/keras/learn/intermediate/trainable-vs-non-trainable-weights/
        https://github.com/keras-team/tf-keras/issues/72
Label: clean
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tf_keras as keras
from tf_keras import layers


def build(backbone):
    inp = keras.Input((6,))
    feats = backbone(inp, training=False)
    out = layers.Dense(3)(feats)
    return keras.Model(inp, out)


keras.utils.set_random_seed(13)
backbone = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu")], name="backbone")
model = build(backbone)
rng = np.random.default_rng(13)
x = rng.normal(size=(32, 6)).astype("float32")
y = rng.integers(0, 3, size=(32,))
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

backbone.trainable = False
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
b0 = backbone.layers[0].kernel.numpy().copy()
h0 = model.layers[-1].kernel.numpy().copy()
model.fit(x, y, epochs=1, batch_size=16, verbose=0)
assert np.array_equal(backbone.layers[0].kernel.numpy(), b0)
assert np.abs(model.layers[-1].kernel.numpy() - h0).sum() > 0

backbone.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
model.fit(x, y, epochs=1, batch_size=16, verbose=0)
assert np.abs(backbone.layers[0].kernel.numpy() - b0).sum() > 0
