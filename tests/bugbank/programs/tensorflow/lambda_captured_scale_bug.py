"""A functional Keras model applies a learnable logit scale through a Lambda layer that closes over a variable: no layer tracks it, so fit() never trains the scale.

Source: https://github.com/philipperemy/keras-tcn/issues/209
        https://github.com/tensorflow/tensorflow/issues/48535
        https://github.com/matterport/Mask_RCNN/pull/3020
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import keras
from keras import layers

logit_scale = keras.Variable(1.0, name="logit_scale")  # BUG


def build_model(num_classes=3):
    inputs = keras.Input(shape=(5,))
    h = layers.Dense(8, activation="relu")(inputs)
    h = layers.UnitNormalization()(h)
    logits = layers.Dense(num_classes, use_bias=False)(h)
    scaled = layers.Lambda(lambda t: t * logit_scale)(logits)  # BUG
    outputs = layers.Softmax()(scaled)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    return model


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 5).astype("float32")
    y = np.random.randint(0, 3, 32)
    model = build_model()
    assert all("logit_scale" not in v.path for v in model.trainable_variables)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert float(logit_scale.numpy()) == 1.0, "the captured scale never trains"
