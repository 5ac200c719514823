"""Transfer learning in Keras 3: after a warm-up fit the base is frozen with trainable=False but the model is not recompiled, so the next fit keeps training the base.

Source: https://github.com/osh/KerasGAN/issues/10
        https://github.com/keras-team/keras/issues/7965
Label: buggy
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


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 5).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    model, base = make_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)

    base.trainable = False  # BUG
    frozen = base.layers[0].kernel.numpy().copy()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # BUG
    assert not np.allclose(frozen, base.layers[0].kernel.numpy()), "the 'frozen' base still trains"
