"""A two-task model learns its task weights in a layer that reports its loss through add_loss, but the hand-written GradientTape loop sums only the head losses and never model.losses: the task weights get no gradient.

Source: https://github.com/yaringal/ConcreteDropout/issues/13
        https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/369
        https://github.com/tensorflow/tensorflow/issues/21237
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


class UncertaintyWeighting(keras.layers.Layer):
    """Kendall-style weighting: the weighted sum is added as a layer loss."""

    def build(self, input_shape):
        self.log_vars = self.add_weight(shape=(2,), initializer="zeros", name="log_vars")

    def call(self, losses):
        precision = tf.exp(-self.log_vars)
        self.add_loss(tf.reduce_sum(precision * losses + self.log_vars))
        return losses


class TwoTaskNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.trunk = keras.layers.Dense(8, activation="relu")
        self.reg_head = keras.layers.Dense(1)
        self.cls_head = keras.layers.Dense(2)
        self.weighting = UncertaintyWeighting()

    def call(self, x, y_reg, y_cls):
        h = self.trunk(x)
        reg = tf.reduce_mean(tf.square(self.reg_head(h) - y_reg))
        cls = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_cls, self.cls_head(h), from_logits=True))
        return self.weighting(tf.stack([reg, cls]))


def train_step(model, optimizer, batch):
    x, y_reg, y_cls = batch
    with tf.GradientTape() as tape:
        task_losses = model(x, y_reg, y_cls)
        loss = tf.reduce_sum(task_losses)  # BUG
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return grads


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    batch = (np.random.rand(16, 4).astype("float32"), np.random.rand(16, 1).astype("float32"), np.random.randint(0, 2, 16))
    net = TwoTaskNet()
    net(*batch)
    opt = keras.optimizers.Adam(0.05)
    grads = train_step(net, opt, batch)
    by_name = {v.path: g for v, g in zip(net.trainable_variables, grads)}
    log_var_grad = [g for path, g in by_name.items() if "log_vars" in path]
    assert log_var_grad == [None], "the add_loss term never reaches the tape's loss"
    assert np.allclose(net.weighting.log_vars.numpy(), 0.0)
