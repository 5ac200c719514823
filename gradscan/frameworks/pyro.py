"""Pyro (1.9.2, on torch 2.13.0)."""
from gradscan.frameworks import Api

# `pyro.param(name, init)` is a trainable weight of the guide: SVI's optimizer updates it
# (py42: SVI steps the params its loss reaches).
WEIGHT_FACTORIES = (
    Api("pyro.param", "py42"),
    # `self.loc = PyroParam(init)` in a PyroModule: a trainable parameter of the module
    Api("pyro.nn.PyroParam", "py42"),
    Api("pyro.nn.module.PyroParam", "py42"),
)

# Inference objects that differentiate the ELBO of the model and guide they are given: those
# functions are differentiable roots (py42).
SVI_CLASSES = (
    Api("pyro.infer.SVI", "py42"),
    Api("pyro.infer.svi.SVI", "py42"),
)

# What the ELBO differentiates inside a model or guide: the distribution given to
# `pyro.sample` (its parameters' gradient reaches `pyro.param`s through it, py42).
SAMPLE_SITES = (
    Api("pyro.sample", "py42"),
)

# Normalizing-flow transforms that are `TransformModule`s (torch modules with their own
# weights): a `TransformedDistribution` built on them depends on those weights, so its
# `.sample()` (drawn under no_grad) cuts them off like any distribution parameter (pt09, py42).
# Classes and the factory functions that build them (`T.spline_coupling(2)`), under both the
# names gradscan's canonical form gives them.
TRAINABLE_TRANSFORMS = tuple(
    Api(f"{prefix}.{name}", "py42") for prefix in ("pyro.distributions.transforms", "pyro.distributions") for name in (
        "AffineAutoregressive", "AffineCoupling", "BatchNorm", "BlockAutoregressive", "ComposeTransformModule",
        "GeneralizedChannelPermute", "Householder", "MatrixExponential", "NeuralAutoregressive", "Planar",
        "Polynomial", "Radial", "Spline", "SplineAutoregressive", "SplineCoupling", "Sylvester",
        "affine_autoregressive", "affine_coupling", "batchnorm", "block_autoregressive",
        "generalized_channel_permute", "householder", "matrix_exponential", "neural_autoregressive", "planar",
        "polynomial", "radial", "spline", "spline_autoregressive", "spline_coupling", "sylvester",
    )
)
