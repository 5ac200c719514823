"""model.fit trains a classifier while a custom Callback keeps an exponential moving average of the weights in NumPy arrays and a learning-rate schedule callback reads the epoch; the shadow weights are only evaluated in a copy, so training is untouched.

Source: https://github.com/keras-team/keras/issues/16836
        https://github.com/keras-team/keras-io/pull/631
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class WeightEMA(keras.callbacks.Callback):
    def __init__(self, decay=0.9):
        super().__init__()
        self.decay = decay
        self.shadow = None

    def on_train_begin(self, logs=None):
        self.shadow = [w.copy() for w in self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        current = self.model.get_weights()
        self.shadow = [self.decay * s + (1.0 - self.decay) * w for s, w in zip(self.shadow, current)]


def build():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])


keras.utils.set_random_seed(9)
rng = np.random.default_rng(9)
x = rng.normal(size=(48, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
model = build()
model.compile(optimizer=keras.optimizers.Adam(1e-2),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
before = [w.copy() for w in model.get_weights()]
ema = WeightEMA()
schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[ema, schedule])

averaged = build()
averaged.set_weights(ema.shadow)
_ = averaged.predict(x, verbose=0)
assert any(np.abs(a - b).sum() > 0 for a, b in zip(model.get_weights(), before))
