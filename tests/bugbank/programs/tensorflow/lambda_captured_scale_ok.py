"""A functional Keras model learns its logit scale in a small subclassed layer (add_weight) and keeps a Lambda only for a fixed temperature constant: the scale trains.

Source: https://github.com/philipperemy/keras-tcn/issues/209
        https://github.com/tensorflow/tensorflow/issues/48535
        https://github.com/matterport/Mask_RCNN/pull/3020
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import keras
from keras import layers

TEMPERATURE = 0.5


class LogitScale(layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer="ones", name="logit_scale")

    def call(self, logits):
        return logits * self.scale


def build_model(num_classes=3):
    inputs = keras.Input(shape=(5,))
    h = layers.Dense(8, activation="relu")(inputs)
    h = layers.UnitNormalization()(h)
    logits = layers.Dense(num_classes, use_bias=False)(h)
    scaled = LogitScale(name="scale")(logits)
    tempered = layers.Lambda(lambda t: t / TEMPERATURE)(scaled)
    outputs = layers.Softmax()(tempered)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    return model


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 5).astype("float32")
    y = np.random.randint(0, 3, 32)
    model = build_model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert float(model.get_layer("scale").scale.numpy()) != 1.0
