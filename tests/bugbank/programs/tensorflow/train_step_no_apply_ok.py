"""A Keras 3 train_step override that applies its gradients and counts steps in a non-trainable tf.Variable: the weights train.

Source: https://github.com/keras-team/keras/issues/14104
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


class CustomModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen_steps = tf.Variable(0, trainable=False, dtype=tf.int64)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = tf.reduce_mean(tf.square(y - y_pred))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.seen_steps.assign_add(1)
        return {"loss": loss}


keras.utils.set_random_seed(0)
inputs = keras.Input((4,))
outputs = keras.layers.Dense(1)(keras.layers.Dense(6, activation="relu")(inputs))
model = CustomModel(inputs, outputs)
model.compile(optimizer=keras.optimizers.SGD(0.1))
x = np.random.rand(32, 4).astype("float32")
y = np.random.rand(32, 1).astype("float32")
before = [w.copy() for w in model.get_weights()]
model.fit(x, y, epochs=2, batch_size=8, verbose=0)
assert int(model.seen_steps.numpy()) == 8
assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
