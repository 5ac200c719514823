"""A trainer keeps an exponential moving average of the model's weights in non-trainable shadow tf.Variables, assigned after each apply_gradients inside a tf.function step; evaluation swaps them in. The model itself trains normally.

Source: https://github.com/tensorflow/addons/issues/1796
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


class EMATrainer:
    def __init__(self, model, decay=0.9):
        self.model = model
        self.decay = decay
        self.opt = tf.keras.optimizers.SGD(0.1)
        self.loss_fn = tf.keras.losses.MeanSquaredError()
        self.shadow = [tf.Variable(w, trainable=False) for w in model.trainable_variables]

    @tf.function
    def step(self, x, y):
        with tf.GradientTape() as tape:
            loss = self.loss_fn(y, self.model(x, training=True))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.model.trainable_variables))
        for s, w in zip(self.shadow, self.model.trainable_variables):
            s.assign(self.decay * s + (1.0 - self.decay) * w)
        return loss

    def evaluate_with_ema(self, x, y):
        backup = [w.numpy() for w in self.model.trainable_variables]
        for s, w in zip(self.shadow, self.model.trainable_variables):
            w.assign(s)
        loss = float(self.loss_fn(y, self.model(x, training=False)))
        for b, w in zip(backup, self.model.trainable_variables):
            w.assign(b)
        return loss


if __name__ == "__main__":
    tf.random.set_seed(2)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32"))
    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    model(x)
    trainer = EMATrainer(model)
    first = model.trainable_variables[0].numpy().copy()
    losses = [float(trainer.step(x, y)) for _ in range(3)]
    assert not np.allclose(first, model.trainable_variables[0].numpy())
    assert losses[-1] < losses[0]
    assert not np.allclose(first, trainer.shadow[0].numpy())
    trainer.evaluate_with_ema(x, y)
