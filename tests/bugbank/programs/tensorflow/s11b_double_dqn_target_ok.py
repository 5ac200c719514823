"""A Double-DQN update in a tf.function: the online net picks the next action with tf.argmax, the target net scores it, and the TD target is wrapped in tf.stop_gradient; only the online net is differentiated and it trains.

Source: https://github.com/openai/baselines/issues/105
        https://github.com/fg91/Deep-Q-Learning/issues/5
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def make_q_net(n_actions):
    return tf.keras.Sequential([
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(n_actions),
    ])


N_ACTIONS = 3
GAMMA = 0.99
online = make_q_net(N_ACTIONS)
target = make_q_net(N_ACTIONS)
opt = tf.keras.optimizers.Adam(1e-3)


@tf.function
def learn(obs, actions, rewards, next_obs, dones):
    with tf.GradientTape() as tape:
        q_all = online(obs, training=True)
        q_taken = tf.reduce_sum(q_all * tf.one_hot(actions, N_ACTIONS), axis=1)
        best_next = tf.argmax(online(next_obs), axis=1)
        q_next = tf.gather(target(next_obs), best_next, batch_dims=1)
        td_target = tf.stop_gradient(rewards + GAMMA * (1.0 - dones) * q_next)
        loss = tf.reduce_mean(tf.keras.losses.huber(td_target[:, None], q_taken[:, None]))
    grads = tape.gradient(loss, online.trainable_variables)
    opt.apply_gradients(zip(grads, online.trainable_variables))
    return loss, grads


def sync_target():
    target.set_weights(online.get_weights())


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(16, 4)).astype("float32")
    next_obs = rng.normal(size=(16, 4)).astype("float32")
    actions = rng.integers(0, N_ACTIONS, size=16).astype("int32")
    rewards = rng.normal(size=16).astype("float32")
    dones = (rng.random(16) < 0.1).astype("float32")
    online(obs)
    target(obs)
    sync_target()
    before = [w.numpy().copy() for w in online.trainable_variables]
    loss, grads = learn(obs, actions, rewards, next_obs, dones)
    assert all(g is not None for g in grads)
    assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0.0
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, online.trainable_variables))
