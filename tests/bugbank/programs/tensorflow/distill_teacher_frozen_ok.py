"""A Keras 3 Distiller overrides train_step: the frozen teacher runs with training=False inside the tape to give soft targets, the student's loss combines compute_loss with a KL term, and only the student's variables are updated, which train.

Source: https://github.com/keras-team/keras-io/pull/242
        https://github.com/keras-team/keras-io/issues/257
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np
import keras
import tensorflow as tf


class Distiller(keras.Model):
    def __init__(self, student, teacher, temperature=3.0, alpha=0.5):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.temperature = temperature
        self.alpha = alpha
        self.kl = keras.losses.KLDivergence()
        self.distill_tracker = keras.metrics.Mean(name="distill")

    def call(self, x, training=False):
        return self.student(x, training=training)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            soft = self.teacher(x, training=False)
            logits = self.student(x, training=True)
            hard_loss = self.compute_loss(x=x, y=y, y_pred=logits)
            d_loss = self.kl(tf.nn.softmax(soft / self.temperature), tf.nn.softmax(logits / self.temperature))
            loss = self.alpha * hard_loss + (1.0 - self.alpha) * d_loss * self.temperature ** 2
        weights = self.student.trainable_variables
        grads = tape.gradient(loss, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        self.distill_tracker.update_state(d_loss)
        return {"loss": loss, "distill": self.distill_tracker.result()}


def mlp(width):
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(width, activation="relu"), keras.layers.Dense(3)])


keras.utils.set_random_seed(6)
teacher = mlp(16)
teacher.trainable = False
student = mlp(4)
distiller = Distiller(student, teacher)
distiller.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.default_rng(6).normal(size=(32, 6)).astype("float32")
y = np.random.default_rng(7).integers(0, 3, size=(32,))
before = [w.copy() for w in student.get_weights()]
t_before = [w.copy() for w in teacher.get_weights()]
distiller.fit(x, y, epochs=1, batch_size=16, verbose=0)
assert any(np.abs(a - b).sum() > 0 for a, b in zip(student.get_weights(), before))
assert all(np.array_equal(a, b) for a, b in zip(teacher.get_weights(), t_before))
