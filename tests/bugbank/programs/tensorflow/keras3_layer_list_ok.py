"""A residual MLP keeps its blocks in a plain Python list attribute; Keras 3 tracks lists of layers, so every block trains.

Source: https://github.com/keras-team/keras/issues/16797
        https://github.com/calmiLovesAI/Basic_CNNs_TensorFlow2/issues/13
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import keras


class ResidualMLP(keras.Model):
    def __init__(self, width, depth):
        super().__init__()
        self.inp = keras.layers.Dense(width)
        self.blocks = []
        for _ in range(depth):
            self.blocks.append(keras.layers.Dense(width, activation="relu"))
        self.out = keras.layers.Dense(1)

    def call(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


keras.utils.set_random_seed(3)
x = np.random.rand(32, 4).astype("float32")
y = np.random.rand(32, 1).astype("float32")
model = ResidualMLP(6, 3)
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
model(x[:1])
before = [b.kernel.numpy().copy() for b in model.blocks]
model.fit(x, y, epochs=2, batch_size=8, verbose=0)
assert len(model.trainable_variables) == 2 + 2 * 3 + 2
for b, k in zip(model.blocks, before):
    assert not np.allclose(k, b.kernel.numpy()), "each listed block trains"
