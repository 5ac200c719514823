"""TensorFlow (2.21, Keras 3.15)."""
from gradscan.frameworks import Api

# `.numpy()` inside a tape gives an ndarray the tape does not see (tf30).
CONVERSION_METHODS = (
    Api("numpy", "tf30"),
)

# Methods whose result the tape cannot see, whatever they are called on: NumPy values (a
# tensor's `.numpy()`, tf30; a Keras model's `predict()` and `get_weights()`, tf51).
NON_CARRYING_METHODS = (
    Api("numpy", "tf30"),
    Api("predict", "tf51"),
    Api("get_weights", "tf51"),
)

# Methods of a tensor or variable whose result is computed from it (a ragged tensor's
# `merge_dims`, a variable's `read_value`): the receiver carries into the result. Any other
# method of a value that is not a model carries only its arguments (API knowledge: TensorFlow
# computes with `tf.*` functions, not tensor methods).
TENSOR_METHODS = frozenset({"read_value", "value", "to_tensor", "merge_dims", "with_values", "values", "flat_values"})

# Calls that make a constant tensor from a NumPy array or Python value: the tape has no path
# back through it (tf30: grad None).
REWRAP_FUNCTIONS = (
    Api("tensorflow.constant", "tf30"),
    Api("tensorflow.convert_to_tensor", "tf30"),
    Api("keras.ops.convert_to_tensor", "tf30"),
    Api("tensorflow.keras.ops.convert_to_tensor", "tf30"),
)

# Calls that create a trainable variable (a gradient source): `tf.Variable` (tf26) and Keras 3's
# `keras.Variable` (tf40), in every spelling.
WEIGHT_FACTORIES = (
    Api("tensorflow.Variable", "tf26"),
    Api("tensorflow.compat.v1.Variable", "tf26"),
    Api("keras.Variable", "tf40"),
    Api("keras.backend.Variable", "tf40"),
    Api("keras.src.backend.Variable", "tf40"),
    Api("keras.src.backend.common.variables.Variable", "tf40"),
    Api("keras.src.backend.common.variables.KerasVariable", "tf40"),
    Api("tensorflow.keras.Variable", "tf40"),
)

# Layer and model attributes that hold trainable weights (what the tape differentiates: tf40).
WEIGHT_ATTRS = (
    *(Api(name, "tf40") for name in ("kernel", "bias", "embeddings", "trainable_variables", "trainable_weights")),
)

# Attributes of a tensor that are metadata, not a value the tape can differentiate (tf36: no
# gradient path).
NON_CARRYING_ATTRS = (
    *(Api(name, "tf36") for name in ("shape", "dtype", "ndim", "name", "device", "rank", "size")),
)

# Functions whose result carries no gradient to their arguments: `stop_gradient` (tf33), and
# metadata, like-constructors, indices and booleans (tf36: no gradient path, grad None).
NON_CARRYING_FUNCTIONS = (
    *(Api(name, "tf33") for name in (
        "tensorflow.stop_gradient", "keras.ops.stop_gradient", "keras.src.ops.stop_gradient",
        "tensorflow.keras.backend.stop_gradient",
    )),
    *(Api(name, "tf36") for name in (
        "tensorflow.shape", "tensorflow.rank", "tensorflow.size", "tensorflow.zeros_like", "tensorflow.ones_like",
        "tensorflow.argmax", "tensorflow.argmin", "tensorflow.math.argmax", "tensorflow.math.argmin",
        "tensorflow.equal", "tensorflow.not_equal", "tensorflow.math.equal", "tensorflow.is_nan",
        "tensorflow.math.is_nan", "tensorflow.math.is_finite", "tensorflow.compat.v1.shape",
        "tensorflow.keras.backend.shape", "keras.ops.shape", "keras.ops.argmax", "keras.ops.argmin",
    )),
)

# Operations on the way to a loss whose gradient is None (argmax, round, floor, ceil) or zeros
# (sign) (tf36): the cuts GS407 reports.
ZERO_GRADIENT_OPS = (
    *(Api(f"tensorflow.{name}", "tf36") for name in ("argmax", "argmin", "round", "floor", "sign")),
    *(Api(f"tensorflow.math.{name}", "tf36") for name in ("argmax", "argmin", "round", "floor", "ceil", "sign")),
    *(Api(f"keras.ops.{name}", "tf36") for name in ("argmax", "round", "floor", "sign")),
)
# Casts: to an integer or boolean dtype, or of a comparison, the result has no gradient (tf36).
CASTS = (
    *(Api(name, "tf36") for name in (
        "tensorflow.cast", "tensorflow.dtypes.cast", "keras.ops.cast", "tensorflow.keras.backend.cast", "keras.backend.cast",
    )),
)
# Comparisons give booleans (tf36).
COMPARISON_FUNCTIONS = (
    *(Api(f"{package}.{name}", "tf36") for package in ("tensorflow", "tensorflow.math") for name in (
        "greater", "less", "greater_equal", "less_equal", "equal", "not_equal",
    )),
)
# `tf.numpy_function` has no gradient (tf28); `tf.py_function` is differentiable when its body
# uses TF ops, zeros when it uses NumPy (tf29).
NUMPY_FUNCTIONS = (
    *(Api(name, "tf28") for name in (
        "tensorflow.numpy_function", "tensorflow.compat.v1.numpy_function", "tensorflow.compat.v1.py_func", "tensorflow.py_func",
    )),
)
PY_FUNCTIONS = (Api("tensorflow.py_function", "tf29"), Api("tensorflow.compat.v1.py_function", "tf29"))
# Keras backend calls that return a NumPy value: inside a tape the value leaves the graph (tf30).
EVAL_TO_NUMPY = (
    *(Api(name, "tf30") for name in (
        "tensorflow.keras.backend.eval", "keras.backend.eval", "tf_keras.backend.eval",
        "tensorflow.keras.backend.get_value", "keras.backend.get_value", "tf_keras.backend.get_value",
        "keras.ops.convert_to_numpy", "keras.src.ops.convert_to_numpy",
    )),
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

# Keras layers that hold no trainable weight (tf52: `trainable_weights == []` in Keras 3 and
# tf_keras, also after `adapt()`): preprocessing, lookups and augmentation. A call of one
# carries what its input carries and nothing of its own; a `Sequential` built only of them too.
# Matched by class name under `keras.`, `tensorflow.` or `tf_keras.`.
WEIGHTLESS_LAYERS = tuple(Api(name, "tf52") for name in (
    "Normalization", "Rescaling", "Resizing", "CenterCrop", "TextVectorization", "StringLookup",
    "IntegerLookup", "Hashing", "CategoryEncoding", "Discretization", "RandomFlip", "RandomRotation",
    "RandomContrast", "RandomZoom", "RandomTranslation", "RandomCrop", "RandomBrightness",
))

# Namespaces of Keras classes whose instances' values carry no gradient (tf53): a metric's
# value (`m(y, p)`, `m.result()`) comes from counters updated by assignment, so
# `tape.gradient` of a loss made of it is None for every weight (Keras 3 and tf_keras, every
# metric: AUC, accuracies, even `Mean` and `MeanSquaredError`).
NO_GRADIENT_NAMESPACES = (Api("metrics", "tf53"),)

# Namespaces of Keras classes that hold no trainable weight of their own (tf56): a loss object
# (`keras.losses.MeanSquaredError()`, `CategoricalCrossentropy(...)`) computes its value from
# what it is given, so its value carries exactly its inputs' gradient.
WEIGHTLESS_NAMESPACES = (Api("losses", "tf56"),)

# TF Probability's distribution layers (tf71): the tensor a later layer receives is
# `convert_to_tensor_fn(distribution)`, `tfd.Distribution.sample` unless told otherwise. The
# generic layer takes a distribution-making function; the others build a discrete distribution
# themselves, so their tensor (a sample, or a mode) carries no gradient to their inputs.
DISTRIBUTION_LAYERS = (
    Api("tensorflow_probability.layers.DistributionLambda", "tf71"),
)
DISCRETE_DISTRIBUTION_LAYERS = tuple(Api(f"tensorflow_probability.layers.{name}", "tf71") for name in (
    "OneHotCategorical", "CategoricalMixtureOfOneHotCategorical", "IndependentBernoulli", "IndependentPoisson",
))
# The conversions that keep a discrete distribution's tensor without gradient (tf35, tf71).
DRAWING_CONVERSIONS = frozenset({"sample", "mode"})
