"""A legacy-Keras functional model (TF_USE_LEGACY_KERAS=1) puts a Lambda(tf.stop_gradient) after its feature extractor: fit() never trains the extractor.

Source: https://github.com/bourdakos1/capsule-networks/issues/9
        https://github.com/cleverhans-lab/cleverhans/issues/934
Label: buggy
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np
import tensorflow as tf

layers = tf.keras.layers

inputs = tf.keras.Input(shape=(6,))
features = layers.Dense(8, activation="relu", name="extractor")(inputs)
features = layers.Lambda(lambda t: tf.stop_gradient(t))(features)  # BUG
outputs = layers.Dense(1, name="regressor")(features)
model = tf.keras.Model(inputs, outputs)
model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")

tf.random.set_seed(0)
np.random.seed(0)
x = np.random.rand(32, 6).astype("float32")
y = np.random.rand(32, 1).astype("float32")
extractor = model.get_layer("extractor")
before = extractor.kernel.numpy().copy()
reg_before = model.get_layer("regressor").kernel.numpy().copy()
model.fit(x, y, epochs=2, batch_size=8, verbose=0)
assert not np.allclose(reg_before, model.get_layer("regressor").kernel.numpy())
assert np.array_equal(before, extractor.kernel.numpy()), "extractor never trains"
