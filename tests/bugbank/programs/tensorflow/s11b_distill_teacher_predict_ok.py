"""Notebook-style knowledge distillation: a pretrained teacher's soft labels come from teacher.predict() inside the student's tape; the teacher is not being trained, so its NumPy output is just a target, and the student receives gradients and trains.

Source: https://pythonguides.com/knowledge-distillation-keras/
        https://markaicode.com/knowledge-distillation-lightweight-models
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras

tf.random.set_seed(4)
rng = np.random.default_rng(4)
x_train = rng.normal(size=(24, 10)).astype("float32")
y_train = rng.integers(0, 4, size=24)

teacher = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)])
teacher.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
teacher.fit(x_train, y_train, epochs=1, verbose=0)

student = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
optimizer = keras.optimizers.Adam(1e-2)
kl = keras.losses.KLDivergence()
ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
T = 3.0
alpha = 0.3

student(x_train[:1])
start = student.layers[0].kernel.numpy().copy()
for step in range(2):
    xb, yb = x_train[step * 12:(step + 1) * 12], y_train[step * 12:(step + 1) * 12]
    with tf.GradientTape() as tape:
        soft_targets = tf.nn.softmax(teacher.predict(xb, verbose=0) / T)
        s_logits = student(xb, training=True)
        loss = alpha * ce(yb, s_logits) + (1 - alpha) * kl(soft_targets, tf.nn.softmax(s_logits / T)) * T ** 2
    grads = tape.gradient(loss, student.trainable_variables)
    assert all(g is not None for g in grads)
    optimizer.apply_gradients(zip(grads, student.trainable_variables))

assert not np.allclose(start, student.layers[0].kernel.numpy())
