"""Keras functional model with a tfp.layers OneHotCategorical DistributionLambda in the middle, trained with fit(): the layers before the sample never train.

Source: https://github.com/tensorflow/probability/issues/1132
Label: buggy
Family: sampling
Frameworks: tensorflow, tf_keras, tensorflow_probability
"""
import numpy as np
import tensorflow as tf
import tf_keras as keras
import tensorflow_probability as tfp

tfd = tfp.distributions
tfpl = tfp.layers


def build_router(d_in, n_experts):
    inp = keras.Input(shape=(d_in,))
    logits = keras.layers.Dense(n_experts, name="router")(inp)
    choice = tfpl.DistributionLambda(
        lambda t: tfd.OneHotCategorical(logits=t, dtype=tf.float32),  # BUG
        convert_to_tensor_fn=tfd.Distribution.sample,  # BUG
    )(logits)
    out = keras.layers.Dense(1, name="expert_mix")(choice)
    return keras.Model(inp, out)


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.RandomState(0)
    x = rng.randn(64, 5).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = build_router(5, 3)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    router_before = model.get_layer("router").get_weights()[0].copy()
    mix_before = model.get_layer("expert_mix").get_weights()[0].copy()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.array_equal(router_before, model.get_layer("router").get_weights()[0])
    assert not np.array_equal(mix_before, model.get_layer("expert_mix").get_weights()[0])
