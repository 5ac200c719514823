"""A detector-style head built by a factory puts L2 kernel_regularizer on its layers, but the hand-written tape loop sums only the task losses it keeps in a dict: model.losses is never added, so the weight decay never acts.

Source: https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/369
        https://github.com/pythonlessons/TensorFlow-2.x-YOLOv3/issues/165
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf

L2 = tf.keras.regularizers.l2(5e-2)


def build_head(n_in=8, n_cls=3):
    inputs = tf.keras.Input((n_in,))
    h = tf.keras.layers.Dense(16, activation="relu", kernel_regularizer=L2)(inputs)  # BUG
    box = tf.keras.layers.Dense(4, kernel_regularizer=L2, name="box")(h)
    cls = tf.keras.layers.Dense(n_cls, name="cls")(h)
    return tf.keras.Model(inputs, [box, cls])


def task_losses(outputs, targets):
    box, cls = outputs
    return {
        "box": tf.reduce_mean(tf.abs(box - targets["box"])),
        "cls": tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(targets["cls"], cls, from_logits=True)),
    }


def train_step(model, optimizer, images, targets):
    with tf.GradientTape() as tape:
        outputs = model(images, training=True)
        parts = task_losses(outputs, targets)
        total = tf.add_n(list(parts.values()))  # BUG
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return total, grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    model = build_head()
    images = rng.normal(size=(8, 8)).astype("float32")
    targets = {"box": rng.normal(size=(8, 4)).astype("float32"), "cls": rng.integers(0, 3, size=(8,))}
    _, grads = train_step(model, tf.keras.optimizers.SGD(0.0), images, targets)
    assert len(model.losses) == 2, "the regularizers did register their penalties"
    # what the step would have seen with the penalty included
    with tf.GradientTape() as tape:
        parts = task_losses(model(images, training=True), targets)
        full = tf.add_n(list(parts.values())) + tf.add_n(model.losses)
    full_grads = tape.gradient(full, model.trainable_variables)
    kernel = 0  # the first Dense kernel
    assert not np.allclose(grads[kernel].numpy(), full_grads[kernel].numpy()), "the penalty never reaches the gradient"
