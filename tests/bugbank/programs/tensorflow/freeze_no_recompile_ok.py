"""Transfer learning in Keras 3 done right: freeze the base, recompile, fit again; the base stays fixed and the top layer trains.

Source: https://github.com/osh/KerasGAN/issues/10
        https://github.com/keras-team/keras/issues/7965
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import keras


def make_model():
    base = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu")], name="base")
    model = keras.Sequential([base, keras.layers.Dense(1, name="top")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model, base


keras.utils.set_random_seed(0)
x = np.random.rand(32, 5).astype("float32")
y = np.random.rand(32, 1).astype("float32")
model, base = make_model()
model.fit(x, y, epochs=1, batch_size=8, verbose=0)

base.trainable = False
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
frozen = base.layers[0].kernel.numpy().copy()
top_before = model.get_layer("top").kernel.numpy().copy()
model.fit(x, y, epochs=1, batch_size=8, verbose=0)
assert np.array_equal(frozen, base.layers[0].kernel.numpy())
assert not np.allclose(top_before, model.get_layer("top").kernel.numpy())
