"""Keras encoder/decoder VAE with tfd.MultivariateNormalDiag(...).sample() inside a GradientTape: TFP's Normal sample is reparameterized.

Source: https://github.com/tensorflow/tensorflow/issues/7236
Label: clean
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def build_encoder(x_dim=10, z_dim=2):
    inp = tf.keras.Input(shape=(x_dim,))
    h = tf.keras.layers.Dense(16, activation="relu")(inp)
    return tf.keras.Model(inp, tf.keras.layers.Dense(2 * z_dim)(h))


def build_decoder(x_dim=10, z_dim=2):
    return tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(x_dim)])


encoder, decoder = build_encoder(), build_decoder()
optimizer = tf.keras.optimizers.Adam(1e-3)
prior = tfd.MultivariateNormalDiag(loc=tf.zeros(2), scale_diag=tf.ones(2))


def train_step(x):
    with tf.GradientTape() as tape:
        loc, raw_scale = tf.split(encoder(x), 2, axis=-1)
        q = tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw_scale) + 1e-4)
        z = q.sample()
        x_hat = decoder(z)
        recon = tf.reduce_mean(tf.reduce_sum(tf.square(x - x_hat), axis=-1))
        kl = tf.reduce_mean(tfd.kl_divergence(q, prior))
        loss = recon + kl
    variables = encoder.trainable_variables + decoder.trainable_variables
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    x = tf.random.normal((8, 10))
    with tf.GradientTape() as tape:
        loc, raw_scale = tf.split(encoder(x), 2, axis=-1)
        z = tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw_scale)).sample()
        recon_only = tf.reduce_sum(tf.square(x - decoder(z)))
    g = tape.gradient(recon_only, encoder.trainable_variables[0])
    assert g is not None and float(tf.reduce_sum(tf.abs(g))) > 0
    grads = train_step(x)
    assert all(gr is not None for gr in grads)
