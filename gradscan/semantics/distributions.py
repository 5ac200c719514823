"""Distributions: which expressions evaluate to a probability distribution object, of which
library and class, whether its sampler is reparameterized, and what its parameters are.

A distribution-valued expression is
- a call to a torch.distributions / pyro.distributions / TF Probability distribution class, in
  every import form the name table resolves (`D.Normal`, `Normal as N`,
  `torch.distributions.normal.Normal`, `tfd = tfp.distributions`, `import pyro.distributions as dist`);
- a wrapper of one (`Independent`, `TransformedDistribution`, tfp `Sample`, pyro's `.to_event()`,
  `.expand()`, `.mask()`): the wrapper samples the way its base does;
- a call to a class of the project that subclasses one (in this file, or elsewhere through the
  project index);
- a local name assigned from one, `self.attr` assigned one, `self.method(...)` / a local
  function whose return value is one, `self.encoder(...)` where `self.encoder` is a module of this
  file whose `forward` returns one (the VAE encoder pattern).

`from_graph(model, expr, scope)` answers the other question the sampling rules ask: does a value
come from the graph (module outputs, parameters, values computed in a differentiable function),
as opposed to constants, buffers, configuration and detached values? It needs positive
evidence; anything it cannot see is not from the graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional, Set, Tuple

from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import names as api_names
from gradscan.frameworks import pyro as pyro_api
from gradscan.frameworks import tensorflow as tf_api
from gradscan.frameworks import torch as torch_api
import libcst as cst

from gradscan.semantics.arguments import argument_for, keyword_argument, positional_argument
from gradscan.semantics.contexts import Scopes, function_value
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.facts import FILL_FACTORIES, FINAL
from gradscan.semantics.names import dotted


if TYPE_CHECKING:
    from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo

TORCH, PYRO, TFP = "torch", "pyro", "tfp"

# has_rsample of torch.distributions classes (torch 2.x, fact pt09). Gumbel, Pareto and Weibull
# are TransformedDistributions of reparameterized bases.
TORCH_REPARAMETERIZED = {
    "Beta", "Cauchy", "Chi2", "ContinuousBernoulli", "Dirichlet", "Exponential", "FisherSnedecor", "Gamma",
    "GeneralizedPareto", "Gumbel", "HalfCauchy", "HalfNormal", "InverseGamma", "Kumaraswamy", "Laplace",
    "LogNormal", "LogisticNormal", "LowRankMultivariateNormal", "MultivariateNormal", "Normal",
    "OneHotCategoricalStraightThrough", "Pareto", "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT",
    "Uniform", "Weibull", "Wishart",
}
TORCH_DISCRETE = {"Bernoulli", "Binomial", "Categorical", "Geometric", "Multinomial", "NegativeBinomial", "OneHotCategorical", "Poisson"}
TORCH_OTHER = {"LKJCholesky", "MixtureSameFamily", "VonMises", "Distribution", "ExponentialFamily"}
# Continuous families whose has_rsample is False (fact pt38): their sample carries no gradient.
TORCH_CONTINUOUS_NO_RSAMPLE = {"LKJCholesky", "MixtureSameFamily", "VonMises"}
# pyro.distributions re-exports torch's classes (TorchDistributionMixin) and adds its own.
PYRO_REPARAMETERIZED = TORCH_REPARAMETERIZED | {
    "AVFMultivariateNormal", "AffineBeta", "AsymmetricLaplace", "Delta", "GaussianScaleMixture", "Logistic",
    "MixtureOfDiagNormals", "MixtureOfDiagNormalsSharedCovariance", "MultivariateStudentT",
    "NanMaskedMultivariateNormal", "NanMaskedNormal", "OMTMultivariateNormal", "ProjectedNormal",
    "RelaxedBernoulliStraightThrough", "RelaxedOneHotCategoricalStraightThrough", "SkewLogistic",
    "SoftAsymmetricLaplace", "SoftLaplace", "Stable", "StableWithLogProb",
}
PYRO_DISCRETE = TORCH_DISCRETE | {
    "BetaBinomial", "DirichletMultinomial", "ExtendedBetaBinomial", "ExtendedBinomial", "GammaPoisson",
    "ZeroInflatedNegativeBinomial", "ZeroInflatedPoisson", "OrderedLogistic",
}
# TF Probability: discrete distributions are NOT_REPARAMETERIZED (fact tf35); the continuous ones
# below are FULLY_REPARAMETERIZED, their `.sample()` passes gradients.
TFP_DISCRETE = {
    "Bernoulli", "BetaBinomial", "Binomial", "Categorical", "DirichletMultinomial", "FiniteDiscrete", "Geometric",
    "Multinomial", "NegativeBinomial", "OneHotCategorical", "OrderedLogistic", "PlackettLuce", "Poisson",
    "ProbitBernoulli", "Skellam", "StoppingRatioLogistic", "Zipf",
}
TFP_NOT_REPARAMETERIZED_CONTINUOUS = {
    "Bates", "CholeskyLKJ", "Deterministic", "LKJ", "Mixture", "MixtureSameFamily", "NoncentralChi2",
    "PixelCNN", "QuantizedDistribution", "TruncatedCauchy", "VonMisesFisher", "HiddenMarkovModel",
    "DeterminantalPointProcess", "PoissonLogNormalQuadratureCompound", "BatchConcat", "Blockwise",
}
# Distributions whose samples are integer indices: used as an index they carry no value.
INDEX_VALUED = {"Categorical"}
# Wrappers sample the way their base distribution does.
WRAPPERS = {
    "Independent", "TransformedDistribution", "ExpandedDistribution", "MaskedDistribution", "FoldedDistribution",
    "Sample", "BatchReshape", "BatchBroadcast", "Masked",
}
WRAPPER_BASE_KEYWORDS = ("base_distribution", "distribution", "base_dist", "base")
# Methods of a distribution returning a distribution that samples like it.
PASSTHROUGH_METHODS = {"expand", "expand_by", "to_event", "mask", "copy"}
NON_PARAMETER_KEYWORDS = {"validate_args", "name", "allow_nan_stats", "reinterpreted_batch_ndims", "event_dim", "event_dims", "sample_shape"}

_PREFIXES = (
    ("torch.distributions.", TORCH),
    ("pyro.distributions.", PYRO),
    ("tensorflow_probability.distributions.", TFP),
)


@dataclass
class DistClass:
    qname: str  # canonical framework class name, e.g. torch.distributions.Normal
    library: str  # torch, pyro, tfp
    name: str  # short class name
    reparameterized: Optional[bool]  # the default sampler passes gradients (tfp) / has rsample (torch, pyro)
    discrete: bool
    wrapper: bool = False
    custom_sample: bool = False  # a project subclass that defines its own `sample`
    subclass: Optional[str] = None  # the project class's name, for a project subclass


@dataclass
class Distribution:
    """A distribution-valued expression, resolved."""

    cls: DistClass
    node: cst.CSTNode  # the constructor call
    scope: Optional["FunctionInfo"]  # the function the constructor call is evaluated in
    params: List[Tuple[cst.BaseExpression, Optional["FunctionInfo"]]] = field(default_factory=list)

    @property
    def library(self) -> str:
        return self.cls.library

    @property
    def reparameterized(self) -> Optional[bool]:
        return self.cls.reparameterized

    @property
    def discrete(self) -> bool:
        return self.cls.discrete

    @property
    def index_valued(self) -> bool:
        return self.cls.name in INDEX_VALUED

    @property
    def display(self) -> str:
        lib = {"torch": "torch.distributions", "pyro": "pyro.distributions", "tfp": "tfp.distributions"}[self.cls.library]
        if self.cls.subclass:
            return f"{self.cls.subclass} (a {lib}.{self.cls.name})"
        return f"{lib}.{self.cls.name}"


def framework_class(qname: Optional[str]) -> Optional[DistClass]:
    """The distribution class a canonical qualified name denotes, or None."""
    if not qname:
        return None
    for prefix, library in _PREFIXES:
        if qname.startswith(prefix):
            name = qname[len(prefix):]
            if "." in name or not name[:1].isupper():
                return None
            if name in WRAPPERS:
                return DistClass(qname, library, name, None, False, wrapper=True)
            if library == TORCH:
                known = TORCH_REPARAMETERIZED | TORCH_DISCRETE | TORCH_OTHER
                if name not in known:
                    return None
                reparam = True if name in TORCH_REPARAMETERIZED else (
                    False if name in TORCH_DISCRETE or name in TORCH_CONTINUOUS_NO_RSAMPLE else None)
                return DistClass(qname, library, name, reparam, name in TORCH_DISCRETE)
            if library == PYRO:
                reparam = True if name in PYRO_REPARAMETERIZED else (
                    False if name in PYRO_DISCRETE or name in TORCH_CONTINUOUS_NO_RSAMPLE else None)
                return DistClass(qname, library, name, reparam, name in PYRO_DISCRETE)
            if name in TFP_DISCRETE:
                return DistClass(qname, library, name, False, True)
            if name in TFP_NOT_REPARAMETERIZED_CONTINUOUS or name.startswith("JointDistribution"):
                return DistClass(qname, library, name, None, False)
            if name.endswith(("Distribution", "Bijector")) and name != "TransformedDistribution":
                return None
            return DistClass(qname, library, name, True, False)
    return None


def class_of_call(model: "FileModel", call: cst.Call) -> Optional[DistClass]:
    """The distribution class `call` instantiates (a framework class or a project subclass)."""
    found = framework_class(model.callee(call))
    if found is not None:
        return found
    func = call.func
    if isinstance(func, cst.Name) and func.value in model.classes:
        return _local_class(model, model.classes[func.value], 0)
    qname = model.callee(call)
    if qname and model.project is not None:
        return _project_class(model, qname, 0)
    return None


def base_distribution_class(model: "FileModel", info: "ClassInfo", _depth: int = 0) -> Optional[DistClass]:
    """The framework distribution class a project class of this file derives from (what
    `super().sample()` in it runs), or None when it is not a distribution subclass."""
    if _depth > 6:
        return None
    for base in info.base_names:
        if base.startswith("<local>."):
            local = model.classes.get(base[len("<local>."):])
            found = base_distribution_class(model, local, _depth + 1) if local is not None and local is not info else None
        else:
            found = framework_class(base) or (_project_class(model, base, 1) if model.project is not None else None)
        if found is not None:
            return found
    if info.base_names:
        # A base this file cannot see (imported from elsewhere in its package): the class is a
        # distribution wrapper when it hands a torch or Pyro distribution to `super().__init__`
        # (`super().__init__(Independent(Normal(loc, scale), 1), transforms)`).
        handed = handed_to_super(model, info)
        if handed is not None and handed.library in (TORCH, PYRO):
            return handed.cls
    return None


def handed_to_super(model: "FileModel", info: "ClassInfo", depth: int = 0) -> Optional["Distribution"]:
    """The distribution a class's methods hand to `super().__init__` as its base (the first
    argument, or `base_distribution=`): what the torch wrappers (`TransformedDistribution`,
    `Independent`) keep as `self.base_dist`. None when there is none."""
    for method in info.methods.values():
        for call in method.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call) \
                    and dotted(func.value.func) == "super":
                base_expr = _wrapper_base(call)
                found = _dist(model, base_expr, method, depth + 1, None) if base_expr is not None else None
                if found is not None:
                    return found
    return None


def _local_class(model: "FileModel", info: "ClassInfo", depth: int) -> Optional[DistClass]:
    if depth > 6:
        return None
    for base in info.base_names:
        if base.startswith("<local>."):
            local = model.classes.get(base[len("<local>."):])
            found = _local_class(model, local, depth + 1) if local is not None and local is not info else None
        else:
            found = framework_class(base) or (_project_class(model, base, depth + 1) if model.project is not None else None)
        if found is not None:
            if found.wrapper:
                found = _wrapped_in_init(model, info, depth) or found
            return _subclass(found, info)
    return None


def _wrapped_in_init(model: "FileModel", info: "ClassInfo", depth: int) -> Optional[DistClass]:
    """A wrapper subclass samples the way the base its `__init__` hands to `super().__init__`
    does (`class TanhNormal(TransformedDistribution)` built on `Normal(loc, scale)`)."""
    init = info.methods.get("__init__")
    if init is None:
        return None
    for call in init.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call) \
                and dotted(func.value.func) == "super":
            base_expr = _wrapper_base(call)
            base = _dist(model, base_expr, init, depth + 1, None) if base_expr is not None else None
            return base.cls if base is not None else None
    return None


def _subclass(base: DistClass, info: "ClassInfo") -> DistClass:
    reparam = base.reparameterized
    if "rsample" in info.methods:
        reparam = True
    for stmt in info.node.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                    if any(isinstance(t, cst.Name) and t.value == "has_rsample" for t in targets):
                        if isinstance(small.value, cst.Name) and small.value.value in ("True", "False"):
                            reparam = small.value.value == "True"
    return DistClass(base.qname, base.library, base.name, reparam, base.discrete, base.wrapper, base.custom_sample or "sample" in info.methods, info.name)


def _project_class(model: "FileModel", qname: str, depth: int) -> Optional[DistClass]:
    if depth > 6 or model.project is None:
        return None
    from gradscan.semantics.names import canonical

    entry = model.project.class_entry(qname)
    methods = set(entry.get("methods", ())) if entry else set()
    for base in model.project.bases(qname) or []:
        found = framework_class(canonical(base)) or _project_class(model, canonical(base), depth + 1)
        if found is not None:
            reparam = True if "rsample" in methods else found.reparameterized
            return DistClass(found.qname, found.library, found.name, reparam, found.discrete, found.wrapper, found.custom_sample or "sample" in methods, qname.rsplit(".", 1)[-1])
    return None


# ---- distribution-valued expressions ------------------------------------------------------
# Each step is one hop (a name's definition, a tuple element, a builder's return, a caller's
# argument): a flow built by a helper returning `(dist, transform)` and handed down through two
# functions (`fit(flow)` -> `loss(flow)`) is eight hops from its constructor.
MAX_DEPTH = 8
# The attribute torch's `TransformedDistribution` and `Independent` store their base in.
WRAPPED_BASE_ATTR = "base_dist"


def distribution_of(model: "FileModel", expr: cst.BaseExpression, scope: Optional["FunctionInfo"] = None, depth: int = 0) -> Optional[Distribution]:
    """The distribution `expr` evaluates to, or None when it is not (or not provably) one.
    `scope` is the function `expr` is evaluated in (found from the tree when omitted)."""
    if depth > MAX_DEPTH:
        return None
    if scope is None:
        scope = model.enclosing_function(expr)
    return _dist(model, expr, scope, depth, None)


def _dist(model, expr, scope, depth, index) -> Optional[Distribution]:
    if depth > MAX_DEPTH:
        return None
    if isinstance(expr, cst.Call):
        return _dist_of_call(model, expr, scope, depth, index)
    if isinstance(expr, cst.Name):
        for value, idx, where in _definitions_before(model, expr, scope):
            return _dist(model, value, where, depth + 1, idx if idx is not None else index)
        return _dist_of_parameter(model, expr.value, scope, depth)
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        cls = _owner_class(scope)
        if cls is None:
            return None
        found = None
        values = _self_values(model, cls, expr.attr.value)
        for value, method in values:
            if isinstance(value, cst.Name) and value.value == "None":
                continue  # `self.dist = None` in `__init__`: a placeholder, never sampled from
            d = _dist(model, value, method, depth + 1, None)
            if d is None:
                return None  # assigned something else too: not provably a distribution
            found = found or d
        if not values and expr.attr.value == WRAPPED_BASE_ATTR:
            # torch's wrappers keep the distribution handed to their constructor as `base_dist`
            return handed_to_super(model, cls, depth + 1)
        return found
    if isinstance(expr, (cst.Tuple, cst.List)) and isinstance(index, int):
        elements = [e for e in expr.elements]
        if 0 <= index < len(elements) and not isinstance(elements[index], cst.StarredElement):
            return _dist(model, elements[index].value, scope, depth + 1, None)
    if isinstance(expr, cst.Dict) and isinstance(index, str):
        # `return {"posterior": Normal(mu, sigma), ...}` read back as `out["posterior"]`
        for el in expr.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString) and el.key.evaluated_value == index:
                return _dist(model, el.value, scope, depth + 1, None)
    if isinstance(expr, cst.Subscript) and index is None:
        key = _literal_key(expr)
        if key is not None:  # `outs["q"]`, `self.encode(x)[0]`: the element of what was built
            return _dist(model, expr.value, scope, depth + 1, key)
    return None


def _literal_key(sub: cst.Subscript):
    """The constant key of `x["name"]` or `x[0]` (an int or a str), else None."""
    if len(sub.slice) != 1 or not isinstance(sub.slice[0].slice, cst.Index):
        return None
    value = sub.slice[0].slice.value
    if isinstance(value, cst.SimpleString):
        key = value.evaluated_value
        return key if isinstance(key, str) else None
    if isinstance(value, cst.Integer):
        return int(value.value, 0)
    return None


def _dist_of_call(model, call: cst.Call, scope, depth, index) -> Optional[Distribution]:
    kind = class_of_call(model, call)
    if kind is not None:
        if kind.wrapper:
            base_expr = _wrapper_base(call)
            base = _dist(model, base_expr, scope, depth + 1, None) if base_expr is not None else None
            if base is None:
                return None
            others = [(a.value, scope) for a in call.args if a.value is not base_expr and not _non_parameter(a)]
            return Distribution(base.cls, call, scope, base.params + others)
        return Distribution(kind, call, scope, [(a.value, scope) for a in call.args if not _non_parameter(a)])
    func = call.func
    if isinstance(func, cst.Attribute):
        if func.attr.value in PASSTHROUGH_METHODS:
            return _dist(model, func.value, scope, depth + 1, None)
        receiver = func.value
        if isinstance(receiver, cst.Name) and receiver.value == "self":
            cls = _owner_class(scope)
            if cls is None:
                return None
            method = model.find_method(cls, func.attr.value)
            if method is not None:
                return _dist_of_returns(model, method, depth, index)
            # `self.encoder(x)`: a module of this file whose forward returns a distribution
            for value, _m in _self_values(model, cls, func.attr.value):
                found = _dist_of_instance_call(model, value, depth, index)
                if found is not None:
                    return found
            return None
        # `policy.head(obs)` where `policy = Policy()`, or a parameter every caller binds to one
        method = model.objects.called_function(call, scope)
        if method is not None:
            return _dist_of_returns(model, method, depth, index)
        return None
    if isinstance(func, cst.Name) and func.value == "self":
        # `self(obs)` in a method: the instance's own forward / __call__ / call
        cls = _owner_class(scope)
        if cls is None:
            return None
        for name in ("forward", "__call__", "call"):
            method = model.find_method(cls, name)
            if method is not None:
                return _dist_of_returns(model, method, depth, index)
        return None
    if isinstance(func, cst.Name):
        fn = _lookup_function(model, scope, func.value)
        if fn is not None:
            return _dist_of_returns(model, fn, depth, index)
        # `policy(obs)` where `policy = Policy()`
        for value, _i, where in _definitions_before(model, func, scope):
            return _dist_of_instance_call(model, value, depth, index)
        # `actor(obs)` where every caller passes an `Actor()`: its forward
        target = model.objects.called_function(call, scope)
        if target is not None:
            return _dist_of_returns(model, target, depth + 1, index)
    return None


def _dist_of_parameter(model, name: str, scope, depth) -> Optional[Distribution]:
    """A helper's parameter that every caller in this file passes a distribution for
    (`def draw(dist): return dist.sample()` called as `draw(Normal(mu, sigma))`): the first
    caller's distribution. None when a caller passes anything else, or there is no caller."""
    if scope is None or name not in scope.params or not isinstance(scope.node, cst.FunctionDef):
        return None
    found = None
    callers = model.objects.callers_of(scope)
    for call, owner in callers[:8]:
        arg = argument_for(scope, call, name)
        d = _dist(model, arg, owner, depth + 1, None) if arg is not None else None
        if d is None:
            return None
        found = found or d
    return found


def _dist_of_instance_call(model, ctor, depth, index) -> Optional[Distribution]:
    """Calling an instance created by `ctor` (`Encoder()`): its class's forward / __call__ returns."""
    if isinstance(ctor, cst.Call) and isinstance(ctor.func, cst.Name) and ctor.func.value in model.classes:
        sub = model.classes[ctor.func.value]
        for name in ("forward", "__call__", "call"):
            target = model.find_method(sub, name)
            if target is not None:
                return _dist_of_returns(model, target, depth + 1, index)
    return None


def _dist_of_returns(model, fn: "FunctionInfo", depth, index) -> Optional[Distribution]:
    for ret in fn.returns:
        if isinstance(ret, cst.Return) and ret.value is not None and model.enclosing_function(ret) is fn:
            found = _dist(model, ret.value, fn, depth + 1, index)
            if found is not None:
                return found
    return None


def _wrapper_base(call: cst.Call) -> Optional[cst.BaseExpression]:
    for a in call.args:
        if a.keyword is not None and a.keyword.value in WRAPPER_BASE_KEYWORDS:
            return a.value
    return positional_argument(call, 0)


def _non_parameter(arg: cst.Arg) -> bool:
    return arg.keyword is not None and arg.keyword.value in NON_PARAMETER_KEYWORDS


# ---- names and scopes ---------------------------------------------------------------------
def _owner_class(scope: Optional["FunctionInfo"]):
    fn = scope
    while fn is not None:
        if fn.cls is not None:
            return fn.cls
        fn = fn.parent
    return None


def _lookup_function(model: "FileModel", scope, name: str):
    s = scope
    while s is not None:
        for fn in model.functions:
            if fn.parent is s and fn.name == name:
                return fn
        s = s.parent
    return model.module_functions.get(name)


def _self_values(model: "FileModel", cls: "ClassInfo", attr: str):
    """(value, method FunctionInfo) for every `self.attr = value` in the class and its local bases."""
    out = []
    for c in model.class_chain(cls):
        for name, value, _node, method in c.self_assigns:
            if name == attr:
                out.append((value, c.methods.get(method)))
    return out


def _plain(binding) -> bool:
    """`x = v` or `x: T = v` (a tuple target's element too), not `x += v`, loops or appends."""
    return binding.kind == "name" and isinstance(binding.stmt, (cst.Assign, cst.AnnAssign)) and binding.value is not None


def definitions(model: "FileModel", name: str, scope: Optional["FunctionInfo"]):
    """Every (value, tuple index or None, assignment node) binding `name` directly in `scope`
    by a plain assignment (the file's one definitions index, `definitions.Definitions`)."""
    return [(b.value, b.index, b.stmt) for b in model.get(Definitions).in_scope(scope, name) if _plain(b)]


def _definitions_before(model: "FileModel", use: cst.Name, scope):
    """The plain assignment of `use` that reaches it (`Definitions.reaching`: in its function,
    then the enclosing functions', then the module's). Yields (value, index, scope) at most once."""
    bindings, _kind = model.get(Definitions).reaching(use, scope)
    for b in bindings:
        if _plain(b):
            yield b.value, b.index, b.scope
            return


# ---- values from the graph ----------------------------------------------------------------
CONSTANT_FACTORIES = {
    "torch.zeros", "torch.ones", "torch.full", "torch.empty", "torch.eye", "torch.arange", "torch.linspace",
    "torch.logspace", "torch.tensor", "torch.as_tensor", "torch.Tensor", "torch.FloatTensor", "torch.LongTensor",
    "torch.zeros_like", "torch.ones_like", "torch.full_like", "torch.empty_like", "torch.randn", "torch.rand",
    "torch.randn_like", "torch.rand_like", "torch.randint", "torch.from_numpy", "torch.scalar_tensor",
    "tensorflow.zeros", "tensorflow.ones", "tensorflow.constant", "tensorflow.zeros_like",
    "tensorflow.ones_like", "tensorflow.eye", "tensorflow.range", "tensorflow.shape", "tensorflow.stop_gradient",
    "jax.numpy.zeros", "jax.numpy.ones", "jax.numpy.zeros_like", "jax.numpy.ones_like", "jax.numpy.eye", "jax.numpy.arange", "jax.numpy.linspace", "jax.numpy.array",
    "jax.numpy.asarray", "jax.lax.stop_gradient", "jax.numpy.shape",
}
# Fills that differentiate in their value (JAX broadcasts it, TensorFlow's `fill` sums the
# gradient back; torch's `full` takes a Python number): the shape or template is not a path.
# The framework's non-carrying tables (frameworks/torch.py), plus `new_tensor` (a new leaf, pt21),
# a method-style `stop_gradient`, and attributes that hold configuration rather than tensors.
DETACHING_METHODS = api_names(torch_api.NON_CARRYING_METHODS, torch_api.REWRAP_METHODS) | {"stop_gradient"}
NON_TENSOR_ATTRS = api_names(torch_api.NON_CARRYING_ATTRS) | {"training", "config", "cfg", "hparams", "args"}
# Trainable weights: a value built by one of these is a gradient source (frameworks tables).
PARAMETER_FACTORIES = api_names(torch_api.WEIGHT_FACTORIES, tf_api.WEIGHT_FACTORIES, jax_api.WEIGHT_FACTORIES,
                                pyro_api.WEIGHT_FACTORIES)
PARAMETER_METHODS = {"add_weight", "add_variable", "param", "variable"}
SCALAR_ANNOTATIONS = {"int", "float", "bool", "str", "Optional[float]", "Optional[int]", "Optional[bool]"}
_NUMERIC_MODULES = ("numpy.", "math.", "random.", "scipy.")


def from_graph(model: "FileModel", expr: cst.BaseExpression, scope: Optional["FunctionInfo"] = None) -> bool:
    """True when the value of `expr` provably depends on trainable parameters or on values a
    differentiable function computes (module outputs, parameters, inputs of a differentiable
    function that have no default). Constants, buffers, configuration, shapes and detached values
    are not from the graph; neither is anything the model cannot see. The engine's one walk
    (`sources.Walk.live_in(expr, "graph")`) with these facts (`graph_facts`)."""
    return model.sources.live(expr, "graph")


def _graph(model, expr) -> bool:
    return model.sources.live(expr, "graph")


def graph_facts(model: "FileModel", walk, expr: cst.CSTNode) -> Optional[Set[str]]:
    """What the distributions' question makes of one node before the walk's common step: a
    source (`{"weight:graph:..."}`), a cut (an empty set), or None (walk on)."""
    t = type(expr)
    if t is cst.Name:
        if expr.value in ("True", "False", "None", "self", "cls"):
            return set()
        owner = model.get(Definitions).parameter_of(expr)
        if owner is not None and _param_graph(model, owner, expr.value):
            return {f"weight:bound:graph:{expr.value}"}
        return None
    if t is cst.Attribute:
        return _attribute_facts(model, expr)
    if t is cst.Call:
        return _call_facts(model, walk, expr)
    if t in (cst.Comparison, cst.Lambda, cst.FormattedString):
        return set()
    return None


# Parameter names of a root (forward, training step, loss function) that name the data it is
# given, not values of the graph: `Normal(x, sigma).sample()` noises an input.
DATA_NAMES = {
    "x", "X", "xs", "input", "inputs", "inp", "image", "images", "img", "imgs", "batch", "data", "obs",
    "observation", "observations", "state", "states", "tokens", "input_ids", "targets", "target", "y", "labels",
    "label", "noise", "key", "rng", "rngs", "seed", "t", "timestep", "timesteps", "mask", "attention_mask",
    "pixel_values", "audio", "features_in", "sample", "samples",
}


def _param_graph(model, fn: "FunctionInfo", name: str) -> bool:
    """A parameter of a differentiable function is a value of the graph, unless it has a default
    or a scalar annotation (hyperparameters: `rate=0.1`, `temperature: float`). A root's
    parameter is what the file's callers pass it (`model(batch)` from a loader: data;
    `head(encoder(x))`: the graph); only when the file shows no caller does a name like data
    (`x`, `obs`, `batch`) decide. A helper's parameters are the root's values."""
    if not isinstance(fn.node, cst.FunctionDef):
        return False
    is_root = fn.context is not None and fn.context.kind != "helper" and fn.parent is None
    if is_root:
        passed = _passed_by_callers(model, fn, name)
        if passed is not None:
            return passed
        if fn.context.kind == "loss":
            # a function that backpropagates builds its loss from what it computes: what it is
            # given is data (a loader it iterates, a batch), networks and optimizers (networks
            # are told by the objects they are, not here)
            return False
    if (is_root or fn.context is None) and name in DATA_NAMES:
        return False
    if fn.context is None and not any(model.enclosing_function(t) is fn for t in model.tape_blocks):
        return False
    p = fn.node.params
    for param in (*p.posonly_params, *p.params, *p.kwonly_params):
        if param.name.value != name:
            continue
        if param.default is not None:
            return False
        if param.annotation is not None:
            ann = model.module.code_for_node(param.annotation.annotation).replace(" ", "")
            if ann in SCALAR_ANNOTATIONS or ann.startswith(("int", "float", "bool", "str")):
                return False
        return True
    return False


_MAX_CALLERS = 8


def _passed_by_callers(model, fn: "FunctionInfo", name: str) -> Optional[bool]:
    """Whether the callers of the root `fn` in this file pass a graph value as its parameter
    `name`: True if one does, False if there are callers and none does, None when there is no
    caller, too many, or an argument that cannot be matched (`*args`)."""
    p = fn.node.params
    positional = [q.name.value for q in (*p.posonly_params, *p.params)]
    if fn.is_method and positional:
        positional = positional[1:]  # self
    callers = model.flow.callers(fn)
    if not callers or len(callers) > _MAX_CALLERS:
        return None
    decided = False
    for call, owner in callers:
        arg = _argument_for(call, positional, name)
        if arg is None:
            return None
        if arg is False:
            continue  # left at its default
        if _graph(model, arg):
            return True
        decided = True
    return False if decided else None


def _argument_for(call: cst.Call, positional: List[str], name: str):
    """The expression `call` passes as parameter `name`, False when it passes none, None when
    that cannot be told."""
    index = 0
    for a in call.args:
        if a.star:
            return None
        if a.keyword is not None:
            if a.keyword.value == name:
                return a.value
            continue
        if index < len(positional) and positional[index] == name:
            return a.value
        index += 1
    return False


def _attribute_facts(model, expr: cst.Attribute) -> Optional[Set[str]]:
    attr = expr.attr.value
    if attr in NON_TENSOR_ATTRS:
        return set()
    value = expr.value
    scope = model.enclosing_function(expr)
    if isinstance(value, cst.Name) and value.value == "self":
        cls = _owner_class(scope)
        return {f"weight:graph:self.{attr}"} if cls is not None and _self_attr_graph(model, cls, attr) else set()
    # `self.fc.weight`: a parameter of a submodule
    if isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name) and value.value.value == "self" and attr in ("weight", "bias"):
        cls = _owner_class(scope)
        if cls is not None and any(_is_module_ctor(model, v) for v, _m in _self_values(model, cls, value.attr.value)):
            return {f"weight:graph:self.{value.attr.value}.{attr}"}
        return set()
    if model.resolve(expr) is not None:  # a module-level name of a library: torch.float32, np.pi
        return set()
    return None


def _self_attr_graph(model, cls, attr: str) -> bool:
    for value, method in _self_values(model, cls, attr):
        if isinstance(value, cst.Call):
            q = model.callee(value)
            if q in PARAMETER_FACTORIES or (q or "").endswith(".Parameter"):
                return True
            func = value.func
            if isinstance(func, cst.Attribute) and func.attr.value in PARAMETER_METHODS and dotted(func.value) == "self":
                return True
        if method is not None and method.context is not None and method.name != "__init__" and _graph(model, value):
            return True
    for call, _owner in model.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "register_parameter" and dotted(func.value) == "self" and call.args:
            first = call.args[0].value
            if isinstance(first, cst.SimpleString) and first.value.strip("'\"") == attr:
                return True
    return False


WEIGHT_METHODS = {"parameters", "named_parameters"}


def _injected_network(model, cls, attr: str) -> bool:
    """`self.<attr>` holds an object passed to the constructor (`self.pi = pi` in `__init__`) whose
    parameters the class hands on (`Adam(pi.parameters())`, `clip_grad_norm_(self.pi.parameters(), 1)`):
    an object with weights, whatever it is called."""
    params = set()
    for value, method in _self_values(model, cls, attr):
        if method is not None and method.name == "__init__" and isinstance(value, cst.Name) and value.value in method.params:
            params.add((value.value, id(method)))
    if not params:
        return False
    chain = {id(c) for c in model.class_chain(cls)}
    for call, owner in model.calls:
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in WEIGHT_METHODS or owner is None:
            continue
        top = owner
        while top.parent is not None:
            top = top.parent
        if top.cls is None or id(top.cls) not in chain:
            continue
        recv = func.value
        if isinstance(recv, cst.Attribute) and dotted(recv.value) == "self" and recv.attr.value == attr:
            return True
        if isinstance(recv, cst.Name) and (recv.value, id(top)) in params:
            return True
    return False


def _is_module_ctor(model, value) -> bool:
    if not isinstance(value, cst.Call):
        return False
    q = model.callee(value) or ""
    if q.startswith("torch.nn.") and q.rsplit(".", 1)[-1][:1].isupper() and q != "torch.nn.Parameter":
        return True
    if isinstance(value.func, cst.Name) and value.func.value in model.classes:
        return model.classes[value.func.value].kind is not None
    return False


TRAINABLE_TRANSFORMS = api_names(pyro_api.TRAINABLE_TRANSFORMS)


def holds_weights(model: "FileModel", expr: cst.BaseExpression, scope: Optional["FunctionInfo"] = None, _depth: int = 0) -> bool:
    """`expr` is, or lists, an object with trainable weights of its own: a Pyro `TransformModule`
    (`T.AffineAutoregressive(arn)`, `T.spline_coupling(2)`), a torch module or a module of this
    file's classes (`PlanarFlow(2)`, `self.flows`). A `TransformedDistribution` given such
    transforms depends on their weights the way a `Normal` depends on its `loc`."""
    if _depth > 6 or expr is None:
        return False
    if scope is None:
        scope = model.enclosing_function(expr)
    if isinstance(expr, (cst.List, cst.Tuple)):
        return any(holds_weights(model, e.value, scope, _depth + 1) for e in expr.elements)
    if isinstance(expr, cst.Call):
        q = model.callee(expr) or ""
        if q in TRAINABLE_TRANSFORMS or _is_module_ctor(model, expr):
            return True
        if q in ("list", "tuple", "torch.nn.ModuleList") and expr.args:
            return holds_weights(model, expr.args[0].value, scope, _depth + 1)
        return False
    if isinstance(expr, cst.Name):
        for value, _idx, where in _definitions_before(model, expr, scope):
            return holds_weights(model, value, where, _depth + 1)
    if isinstance(expr, cst.Attribute) and dotted(expr.value) == "self":
        cls = _owner_class(scope)
        if cls is not None and any(holds_weights(model, value, method, _depth + 1)
                                   for value, method in _self_values(model, cls, expr.attr.value)):
            return True  # `self.flow = T.spline_coupling(2)` in `__init__`
    if isinstance(expr, (cst.Name, cst.Attribute)):
        return model.sources.walk.is_module_object(expr, scope)
    return False


def _call_facts(model, walk, call: cst.Call) -> Optional[Set[str]]:
    seed = {f"weight:graph@{model.flow.order(call)}"}
    if any(a.keyword is not None and a.keyword.value == "requires_grad" and isinstance(a.value, cst.Name) and a.value.value == "True" for a in call.args):
        return seed  # a leaf the script trains: torch.zeros(3, requires_grad=True)
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "requires_grad_" and not (call.args and dotted(call.args[0].value) == "False"):
        return seed
    q = model.callee(call)
    if q is not None:
        if q in CONSTANT_FACTORIES or q.startswith(_NUMERIC_MODULES):
            return set()
        if q in FILL_FACTORIES:
            position, keyword = FILL_FACTORIES[q]
            value = keyword_argument(call, keyword) or positional_argument(call, position)
            return {FINAL, *walk.roots(value)} if value is not None else set()
        if q in PARAMETER_FACTORIES:
            return seed
    func = call.func
    scope = model.enclosing_function(call)
    if q is None and isinstance(func, (cst.Name, cst.Attribute)) and not (isinstance(func, cst.Attribute) and func.attr.value in DETACHING_METHODS) \
            and walk.is_module_object(func, scope):
        return seed  # `policy(obs)`, `model.encoder(x)`: an object holding weights (the torch sources' answer)
    if isinstance(func, cst.Attribute):
        name = func.attr.value
        if name in DETACHING_METHODS:
            return set()
        receiver = func.value
        if isinstance(receiver, cst.Name) and receiver.value == "self":
            cls = _owner_class(scope)
            if cls is not None:
                if name in PARAMETER_METHODS:
                    return seed
                if model.find_method(cls, name) is None:
                    if any(_is_module_ctor(model, v) or _is_layer_ctor(model, v) for v, _m in _self_values(model, cls, name)):
                        return seed  # a submodule's output
                    if _injected_network(model, cls, name):
                        return seed  # `self.pi(obs)`: a network handed to the constructor whose parameters are trained
            return None
        return None
    if isinstance(func, cst.Call):
        return seed if _is_layer_ctor(model, func) else None  # `nn.Dense(4)(x)` in a compact Flax / Keras call
    if isinstance(func, cst.Name) and q is None:
        if func.value in ("len", "int", "float", "bool", "str", "range", "isinstance", "getattr", "type", "print"):
            return set()
        if _callable_param(model, func.value, scope):
            return seed  # `model(x)`, `policy(obs)`: a module handed to a differentiable function
    return None


def _callable_param(model, name: str, scope) -> bool:
    s = scope
    while s is not None:
        if definitions(model, name, s):
            return False
        if name in s.params:
            return name not in DATA_NAMES and _param_graph(model, s, name)
        s = s.parent
    return False


def _is_layer_ctor(model, value) -> bool:
    if not isinstance(value, cst.Call):
        return False
    q = model.callee(value) or ""
    last = q.rsplit(".", 1)[-1]
    return bool(last[:1].isupper()) and q.startswith(("flax.linen.", "flax.nnx.", "keras.layers.", "tensorflow.keras.layers.", "tf_keras.layers.", "haiku."))


# ---- uses of a sample ----------------------------------------------------------------------
SCORE_METHODS = {"log_prob", "log_pmf", "prob", "pmf", "cdf", "log_cdf", "unnormalized_log_prob", "log_prob_sum", "score_parts", "log_density", "log_likelihood"}
SCORE_FUNCTIONS = {
    "torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss", "torch.nn.functional.binary_cross_entropy",
    "torch.nn.functional.binary_cross_entropy_with_logits", "torch.gather", "torch.take_along_dim", "jax.numpy.take_along_axis", "numpy.take_along_axis",
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits", "tensorflow.nn.softmax_cross_entropy_with_logits",
    "tensorflow.nn.sigmoid_cross_entropy_with_logits", "optax.softmax_cross_entropy_with_integer_labels",
    "optax.softmax_cross_entropy", "optax.sigmoid_binary_cross_entropy", "pyro.sample", "pyro.factor",
}


def is_score_call(model: "FileModel", node: cst.CSTNode) -> bool:
    """A call that uses a sample as the point a log-probability is evaluated at (a score
    function / REINFORCE estimator, or a likelihood target): `d.log_prob(a)`, `F.cross_entropy(logits, a)`."""
    if type(node) is cst.BinaryOperation:
        return _log_term(model, node) is not None
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value in SCORE_METHODS:
        return True
    q = model.callee(node)
    if q == "pyro.sample":
        # Only an observed site scores a value (`obs=x`); `pyro.sample("z", Delta(v))` uses the
        # value pathwise, and the ELBO needs its gradient.
        return any(a.keyword is not None and a.keyword.value == "obs" for a in node.args)
    if q in SCORE_FUNCTIONS:
        return True
    return isinstance(func, cst.Attribute) and func.attr.value in ("gather", "take_along_dim", "take_along_axis")


# A log-likelihood written by hand: the point times the log of its probability,
# `m * torch.log(p) + (1 - m) * torch.log(1 - p)`, `(onehot * F.log_softmax(logits, -1)).sum(-1)`.
LOG_FUNCTIONS = {"torch.log", "torch.log1p", "torch.log_softmax", "torch.nn.functional.log_softmax",
                 "torch.nn.functional.logsigmoid", "jax.numpy.log", "jax.nn.log_softmax", "tensorflow.math.log",
                 "tensorflow.nn.log_softmax"}
LOG_METHODS = {"log", "log1p", "log_softmax"}


def _log_term(model: "FileModel", node: cst.BinaryOperation) -> Optional[cst.BaseExpression]:
    """The log side of `point * log(prob)` (either order), or None."""
    if type(node.operator) is not cst.Multiply:
        return None
    for side in (node.right, node.left):
        if type(side) is cst.Call and (model.callee(side) in LOG_FUNCTIONS or (
                type(side.func) is cst.Attribute and side.func.attr.value in LOG_METHODS and model.callee(side) is None)):
            return side
    return None


# Where a score function takes the point it scores (position, keyword): the label or index. Its
# other arguments (the logits, the prediction, the gathered tensor) are used pathwise.
SCORED_ARGUMENT = {
    "torch.nn.functional.cross_entropy": (1, "target"), "torch.nn.functional.nll_loss": (1, "target"),
    "torch.nn.functional.binary_cross_entropy": (1, "target"),
    "torch.nn.functional.binary_cross_entropy_with_logits": (1, "target"),
    "torch.gather": (2, "index"), "torch.take_along_dim": (1, "indices"),
    "jax.numpy.take_along_axis": (1, "indices"), "numpy.take_along_axis": (1, "indices"),
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits": (0, "labels"),
    "tensorflow.nn.softmax_cross_entropy_with_logits": (0, "labels"),
    "tensorflow.nn.sigmoid_cross_entropy_with_logits": (0, "labels"),
    "optax.softmax_cross_entropy_with_integer_labels": (1, "labels"), "optax.softmax_cross_entropy": (1, "labels"),
    "optax.sigmoid_binary_cross_entropy": (1, "labels"), "pyro.sample": (None, "obs"),
}
SCORED_METHOD_ARGUMENT = {"gather": (1, "index"), "take_along_dim": (0, "indices")}


def scores_entry(model: "FileModel", entered: Optional[cst.CSTNode], node: cst.CSTNode) -> bool:
    """`node` is a score call (`is_score_call`) that takes the value arriving from `entered` as
    the point it scores (`d.log_prob(a)`, `cross_entropy(logits, a)`). A value that enters as
    the scored distribution's parameter (`Normal(dec(z), 1).log_prob(x)`, a decoder's
    likelihood) or as the prediction (`cross_entropy(logits_of(z), y)`) is used pathwise: its
    gradient is the likelihood's. Unknown entries (`entered` None or outside the call) score."""
    if not is_score_call(model, node):
        return False
    if entered is None or not _inside(model, node, entered):
        return True
    if type(node) is cst.BinaryOperation:
        return not _inside(model, _log_term(model, node), entered)  # the point, not the probability
    func = node.func
    q = model.callee(node)
    spec = SCORED_ARGUMENT.get(q or "")
    if spec is None and isinstance(func, cst.Attribute):
        if func.attr.value in SCORE_METHODS:
            return not _inside(model, func, entered)  # the receiver is the distribution, the argument the point
        spec = SCORED_METHOD_ARGUMENT.get(func.attr.value)
    if spec is None:
        return True
    position, keyword = spec
    scored = None
    for i, arg in enumerate(a for a in node.args if a.keyword is None and not a.star):
        if i == position:
            scored = arg.value
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            scored = arg.value
        if arg.star:
            return True  # positions unknown after `*args`
    return scored is not None and _inside(model, scored, entered)


def _inside(model: "FileModel", outer: cst.CSTNode, node: cst.CSTNode) -> bool:
    return node is outer or any(a is outer for a in model.ancestors(node))


def contains_detach(model: "FileModel", node: cst.CSTNode) -> bool:
    """A sum holding a detached term: the straight-through idiom `hard + soft - soft.detach()`,
    `(hard - soft).detach() + soft`. A detach nested inside another term (a REINFORCE term
    `log_prob * reward.detach()` beside a pathwise one) is not that idiom."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, (cst.Add, cst.Subtract)):
            stack.extend((n.left, n.right))
            continue
        if isinstance(n, cst.UnaryOperation) and isinstance(n.operator, cst.Minus):
            stack.append(n.expression)
            continue
        if _is_detach(model, n):
            return True
    return False


def _is_detach(model: "FileModel", n: cst.CSTNode) -> bool:
    if isinstance(n, cst.Call):
        func = n.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("detach", "stop_gradient"):
            return True
        return (model.callee(n) or "") in ("tensorflow.stop_gradient", "jax.lax.stop_gradient")
    return isinstance(n, cst.Attribute) and n.attr.value == "data"


# ---- a log-density of the distribution's own sample ---------------------------------------
# The sampler whose value keeps the graph to the parameters: torch/Pyro's `rsample`, and TF
# Probability's `sample` of a FULLY_REPARAMETERIZED family (fact tf35).
PATHWISE_SAMPLERS = {TORCH: ("rsample",), PYRO: ("rsample",), TFP: ("sample",)}
POINT_KEYWORDS = ("value", "x")


def sample_scored_by(model: "FileModel", score: cst.Call, depth: int = 0) -> Optional[Tuple[cst.Call, Distribution]]:
    """For `d.log_prob(a)` / `d.prob(a)`: (the sampling call, d) when `a` is a pathwise sample
    drawn from that same distribution object (`a = d.rsample()`; TFP's `a = d.sample()`), reached
    through plain assignments with nothing computed on the way (a detached or stopped `a` is a
    call of its own and does not match). None otherwise."""
    func = score.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in ("log_prob", "prob"):
        return None
    point = keyword_argument(score, POINT_KEYWORDS[0]) or keyword_argument(score, POINT_KEYWORDS[1]) or positional_argument(score, 0)
    if point is None:
        return None
    d = distribution_of(model, func.value)
    if d is None or d.discrete or d.reparameterized is not True or d.cls.custom_sample:
        return None
    scope = model.enclosing_function(score)
    for _hop in range(4):
        if isinstance(point, cst.Name):
            found = list(_definitions_before(model, point, scope))
            if len(found) != 1 or found[0][1] is not None:
                return None  # rebound, or an element of a tuple: not provably the sample
            point, _idx, scope = found[0]
            continue
        break
    if not isinstance(point, cst.Call) or not isinstance(point.func, cst.Attribute):
        return None
    if point.func.attr.value not in PATHWISE_SAMPLERS.get(d.library, ()):
        return None
    source = distribution_of(model, point.func.value, scope)
    if source is None or source.node is not d.node:
        return None
    return point, d


# ---- Pyro SVI: the functions it differentiates and the torch modules they call ----------------
SVI_CLASSES = api_names(pyro_api.SVI_CLASSES)
PYRO_MODULE_BASES = {"pyro.nn.PyroModule", "pyro.nn.module.PyroModule"}


def svi_programs(model: "FileModel") -> List[Tuple[cst.Call, "FunctionInfo"]]:
    """(the `SVI(...)` call, function) for the model and the guide every `pyro.infer.SVI` of the
    file is given: a function, a lambda, `self.method`, `obj.method` of a local class's
    instance, or an instance of a local class (its `__call__` / `forward`). An AutoGuide
    (`AutoNormal(model)`) is Pyro's and not returned."""

    if not model.imports.uses("pyro"):
        return []
    scopes = model.get(Scopes)
    out: List[Tuple[cst.Call, "FunctionInfo"]] = []
    for call, owner in model.calls:
        if model.callee(call) not in SVI_CLASSES:
            continue
        for i, arg in enumerate(call.args[:2]):
            if arg.keyword is not None and arg.keyword.value not in ("model", "guide"):
                continue
            if arg.keyword is None and i > 1:
                continue
            fn = function_value(model, owner, arg.value, scopes) or _instance_method(model, arg.value, owner)
            if fn is not None and all(fn is not f for _c, f in out):
                out.append((call, fn))
    return out


def _instance_method(model: "FileModel", expr: cst.BaseExpression, scope, depth: int = 0):
    """`guide` bound to `FlowGuide()` (its `__call__` / `forward`), `vae.guide` where
    `vae = VAE()` (the method)."""
    if depth > 3:
        return None
    if isinstance(expr, cst.Name):
        for value, idx, where in _definitions_before(model, expr, scope):
            return None if idx is not None else _instance_method(model, value, where, depth + 1)
        return None
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value in model.classes:
        cls = model.classes[expr.func.value]
        for name in ("__call__", "forward"):
            method = model.find_method(cls, name)
            if method is not None:
                return method
        return None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        for value, idx, _where in _definitions_before(model, expr.value, scope):
            if idx is None and isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in model.classes:
                return model.find_method(model.classes[value.func.value], expr.attr.value)
    return None


def module_constructor(model: "FileModel", expr: cst.BaseExpression, scope, depth: int = 0,
                       via: Optional[List[cst.Call]] = None) -> Optional[cst.Call]:
    """The constructor call of the torch module or Pyro `TransformModule` that `expr` holds:
    `mean_net` bound to `MeanNet()`, `self.flow` set to `T.spline(2)` in `__init__`,
    `nn.Linear(3, 1)` itself, the module `pyro.module(name, net)` returns (that call is added
    to `via` when given). None when `expr` is anything else or cannot be told."""
    if depth > 4 or expr is None:
        return None
    if isinstance(expr, cst.Call):
        q = model.callee(expr) or ""
        if q in TRAINABLE_TRANSFORMS or _is_module_ctor(model, expr):
            return expr
        if q in ("pyro.module", "pyro.primitives.module"):
            # `pyro.module(name, net)` registers and returns `net` itself
            given = [a.value for a in expr.args if a.keyword is not None and a.keyword.value == "nn_module"]
            positional = [a.value for a in expr.args if a.keyword is None and not a.star]
            held = given[0] if given else (positional[1] if len(positional) > 1 else None)
            if via is not None:
                via.append(expr)
            return module_constructor(model, held, scope, depth + 1, via)
        # `build_encoder(4, 2)`: a function of the file whose every return builds a module
        factory = model.module_functions.get(expr.func.value) if isinstance(expr.func, cst.Name) and not q else None
        if factory is None or not factory.returns or expr.func.value in model.classes:
            return None
        found = None
        for ret in factory.returns:
            ctor = module_constructor(model, getattr(ret, "value", None), factory, depth + 1, via)
            if ctor is None:
                return None
            found = found or ctor
        return found
    if isinstance(expr, cst.Name):
        for value, idx, where in _definitions_before(model, expr, scope):
            return None if idx is not None else module_constructor(model, value, where, depth + 1, via)
        # A parameter (of the function or of one enclosing it, read in a closure): what every
        # caller of that function in the file passes for it.
        owner = scope
        while owner is not None and expr.value not in owner.params:
            if expr.value in owner.bindings:
                return None
            owner = owner.parent
        if owner is None:
            return None
        if model.module_functions.get(owner.name) is owner:
            # a function of the module: its calls by name anywhere, setup code included
            callers = [(c, o) for c, o in model.calls if isinstance(c.func, cst.Name) and c.func.value == owner.name]
        else:
            callers = model.flow.callers(owner)
        found = None
        for call, caller in callers[:8]:
            arg = argument_for(owner, call, expr.value)
            ctor = module_constructor(model, arg, caller, depth + 1, via) if arg is not None else None
            if ctor is None:
                return None
            found = found or ctor
        return found
    if isinstance(expr, cst.Attribute) and dotted(expr.value) == "self":
        cls = _owner_class(scope)
        values = _self_values(model, cls, expr.attr.value) if cls is not None else []
        if len(values) == 1:
            value, method = values[0]
            return module_constructor(model, value, method, depth + 1, via)
    return None


def is_pyro_module_ctor(model: "FileModel", ctor: cst.Call) -> bool:
    """`PyroModule[nn.Linear](3, 1)`, or a local class deriving from `PyroModule`: its
    parameters enter Pyro's param store by themselves."""
    func = ctor.func
    if isinstance(func, cst.Subscript):
        return (model.resolve(func.value) or "") in PYRO_MODULE_BASES
    if isinstance(func, cst.Name) and func.value in model.classes:
        for cls in model.class_chain(model.classes[func.value]):
            for base in cls.base_names:
                if base in PYRO_MODULE_BASES or base.startswith(tuple(b + "[" for b in PYRO_MODULE_BASES)):
                    return True
    return False


def bound_value(model: "FileModel", name: cst.Name, scope) -> Optional[cst.BaseExpression]:
    """The value the plain assignment reaching `name` binds (in its function, then the enclosing
    ones, then the module), or None (a tuple element, a parameter, a loop variable)."""
    for value, idx, _where in _definitions_before(model, name, scope):
        return value if idx is None else None
    return None


# ---- straight-through and relaxed categorical samples -------------------------------------
STRAIGHT_THROUGH_FUNCTIONS = {"torch.nn.functional.gumbel_softmax"}
RELAXED_ONE_HOT = {"RelaxedOneHotCategorical", "OneHotCategoricalStraightThrough", "RelaxedOneHotCategoricalStraightThrough",
                   "ExpRelaxedCategorical", "GumbelSoftmax"}


def relaxed_sample(model: "FileModel", expr: cst.BaseExpression, depth: int = 0) -> Optional[cst.Call]:
    """The sampling call `expr` holds when it is a straight-through or relaxed one-hot sample of
    graph logits: `F.gumbel_softmax(logits, hard=True)`, `RelaxedOneHotCategorical(t, logits=l).rsample()`
    (torch, Pyro), TFP's `RelaxedOneHotCategorical(t, logits=l).sample()`; reached through plain
    assignments. None otherwise."""
    if depth > 3:
        return None
    scope = model.enclosing_function(expr)
    if isinstance(expr, cst.Name):
        value = bound_value(model, expr, scope)
        return relaxed_sample(model, value, depth + 1) if value is not None else None
    if not isinstance(expr, cst.Call):
        return None
    q = model.callee(expr)
    if q in STRAIGHT_THROUGH_FUNCTIONS:
        logits = keyword_argument(expr, "logits") or positional_argument(expr, 0)
        return expr if logits is not None and model.sources.from_graph(logits, scope) else None
    func = expr.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("rsample", "sample"):
        d = distribution_of(model, func.value, scope)
        if d is None or d.cls.name not in RELAXED_ONE_HOT:
            return None
        if func.attr.value == "sample" and d.library != TFP:
            return None  # torch's sample() is drawn under no_grad: GS301's
        if any(model.sources.from_graph(p, s) for p, s in d.params):
            return expr
    return None
