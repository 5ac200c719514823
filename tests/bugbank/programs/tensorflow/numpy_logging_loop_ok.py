"""A flat custom loop converts the loss and the gradient norms to NumPy after the tape for a history list, early stopping and printing; the update itself uses the tape's gradients, so the weights train.

Source: https://github.com/keras-team/tf-keras/issues/501
        https://github.com/tensorflow/tensorflow/issues/56866
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf

tf.random.set_seed(8)
rng = np.random.default_rng(8)
X = rng.normal(size=(64, 3)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.1).astype(np.float32)

model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4, activation="relu"), tf.keras.layers.Dense(1)])
mse = tf.keras.losses.MeanSquaredError()
opt = tf.keras.optimizers.Adam(1e-2)
history, grad_norms = [], []
best, patience = np.inf, 0
start = model.layers[-1].kernel.numpy().copy()

for epoch in range(3):
    for i in range(0, 64, 16):
        xb, yb = X[i:i + 16], Y[i:i + 16]
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            loss = mse(yb, pred)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        history.append(float(loss.numpy()))
        grad_norms.append(np.sqrt(sum(np.sum(g.numpy() ** 2) for g in grads)))
    epoch_loss = np.mean(history[-4:])
    if epoch_loss < best - 1e-4:
        best, patience = epoch_loss, 0
    else:
        patience += 1
    if patience > 2:
        break

assert grad_norms[0] > 0
assert np.abs(model.layers[-1].kernel.numpy() - start).sum() > 0
