"""TensorFlow (2.21, Keras 3.15)."""
from gradscan.frameworks import Api

# `.numpy()` inside a tape gives an ndarray the tape does not see (tf30).
CONVERSION_METHODS = (
    Api("numpy", "tf30"),
)

# Calls that make a constant tensor from a NumPy array or Python value: the tape has no path
# back through it (tf30: grad None).
REWRAP_FUNCTIONS = (
    Api("tensorflow.constant", "tf30"),
    Api("tensorflow.convert_to_tensor", "tf30"),
    Api("keras.ops.convert_to_tensor", "tf30"),
    Api("tensorflow.keras.ops.convert_to_tensor", "tf30"),
)

# Calls that create a trainable variable (a gradient source): tf26, tf40.
WEIGHT_FACTORIES = (
    Api("tensorflow.Variable", "tf26"),
    Api("keras.Variable", "tf40"),
)

# Variable-like objects a Keras 3 layer does not track as an attribute (tf40: a raw
# `tf.Variable`; tf46: TF Probability's `TransformedVariable` and `DeferredTensor` too), while
# tf_keras and `tf.Module` do.
UNTRACKED_BY_KERAS3 = (
    Api("tensorflow.Variable", "tf40"),
    Api("tensorflow.compat.v1.Variable", "tf40"),
    Api("tensorflow_probability.util.TransformedVariable", "tf46"),
    Api("tensorflow_probability.util.DeferredTensor", "tf46"),
)
