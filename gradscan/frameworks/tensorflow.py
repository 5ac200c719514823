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
