"""Framework facts: what each framework makes of a node, before the one walk's common step.

The walk (`gradscan.semantics.sources.Walk`) follows a value back to its roots the same way for
every framework; `FrameworkFacts.roots` (here) first says, node by node, whether the framework's
tables in `gradscan/frameworks/` make the node a source, a cut or nothing. The seed predicates it
asks live here too:

- TensorFlow / Keras (`TensorFlowSources`): a layer or model output, a trainable variable or
  `add_weight`, a tape-watched tensor, a Keras layer's `call()` input (the previous layer's
  output), `y_pred`;
- JAX (`JaxSources`, `FrameworkFacts.jax_scopes`): the arguments `jax.grad`/`value_and_grad`/
  `nnx.grad`/`jacrev`/`jacfwd`/`hessian` differentiate, by `argnums`, the primals of `jax.vjp`/
  `jvp`/`linearize`/`check_grads`, and the parameters of the helpers they pass a traced value to;
- distributions (`distributions.graph_facts`, mode "graph"): module outputs, parameters,
  `pyro.param`s, trainable leaves, the inputs of a differentiable function.

Every analysis is built once per file and memoised with the model (`model.get(...)`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import libcst as cst

from gradscan.frameworks import names as api_names
from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import tensorflow as tf_api
from gradscan.semantics import classes as kinds
from gradscan.semantics.arguments import argument_for, keyword_argument, positional_argument
from gradscan.semantics.contexts import Scopes, function_value
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.walk import descendants

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel, FunctionInfo

_UNSET = object()

# ---- TensorFlow / Keras ------------------------------------------------------------------
WEIGHT_FACTORIES = api_names(tf_api.WEIGHT_FACTORIES)
WEIGHT_ATTRS = api_names(tf_api.WEIGHT_ATTRS)
NON_CARRYING_ATTRS = api_names(tf_api.NON_CARRYING_ATTRS)
NON_CARRYING_FUNCTIONS = api_names(tf_api.NON_CARRYING_FUNCTIONS)
NON_CARRYING_METHODS = api_names(tf_api.NON_CARRYING_METHODS)
WEIGHTLESS_LAYERS = api_names(tf_api.WEIGHTLESS_LAYERS)
NO_GRADIENT_NAMESPACES = api_names(tf_api.NO_GRADIENT_NAMESPACES)
WEIGHTLESS_NAMESPACES = api_names(tf_api.WEIGHTLESS_NAMESPACES)
KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")
TENSOR_METHODS = tf_api.TENSOR_METHODS
KERAS_KINDS = (kinds.KERAS, kinds.KERAS_LEGACY)
_KERAS_MODELS = {"Model", "Sequential", "Functional"}
# Callables named like these compute differentiable values (`model(x)`, `self.encoder(h)`): a
# naming convention, not a framework fact.
MODEL_TOKENS = {
    "model", "net", "network", "encoder", "decoder", "generator", "discriminator", "critic", "actor",
    "policy", "backbone", "classifier", "head", "layer", "layers", "block", "blocks", "mlp", "dense",
    "conv", "rnn", "lstm", "gru", "embedding", "transformer", "unet", "vae", "autoencoder", "projector",
    "predictor", "module", "cell", "attention", "ffn", "proj", "linear", "logits", "nn",
}


def _is_name(expr, value: str) -> bool:
    return type(expr) is cst.Name and expr.value == value


def _method_name(call: cst.Call) -> Optional[str]:
    return call.func.attr.value if type(call.func) is cst.Attribute else None


class TensorFlowSources:
    """Does an expression carry gradient: a layer or model output, a trainable variable, a
    watched tensor, or arithmetic on them? Function inputs, labels, masks and shapes do not."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._callees: Dict[int, Optional[str]] = {}
        self._watched: Optional[Set[Tuple[int, str]]] = None
        self._model_names: Optional[Set[str]] = None

    def _index(self) -> None:
        self._watched = set()
        for call, fn in self.model.calls:
            if _method_name(call) == "watch" and call.args:
                for sub in descendants(call.args[0].value):
                    if isinstance(sub, cst.Name):
                        self._watched.add((id(fn), sub.value))

    def callee(self, call: cst.Call) -> Optional[str]:
        found = self._callees.get(id(call), _UNSET)
        if found is _UNSET:
            found = self._callees[id(call)] = self.model.callee(call)
        return found

    def values(self, fn: Optional["FunctionInfo"], name: str) -> List[cst.BaseExpression]:
        """What `name` is assigned anywhere in `fn` (the file's definitions index; any order)."""
        return [b.value for b in self.model.get(Definitions).in_scope(fn, name) if b.kind == "name" and b.value is not None]

    def carries(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"] = None, depth: int = 4, seen: Optional[Set[str]] = None) -> bool:
        """The one walk (`sources.Walk.live_in`) with TensorFlow's facts (`FrameworkFacts`);
        names in `seen` are not followed. (`fn` and `depth` are kept for callers' convenience: the
        walk finds the function from the node and bounds itself.)"""
        return self.model.sources.walk.live_in(expr, "tensorflow", seen or ())

    def layer_input(self, fn: "FunctionInfo", param: str, depth: int = 2) -> bool:
        """`param` is the input of a Keras layer's `call()` and a call site in this file passes
        it a value that carries gradient (`h = self.dense(x); self.quantize(h)`): inside a model,
        the previous layer's output. Bound at its call sites like a helper's parameter: a layer's
        input may just as well be token ids, strings or masks (preprocessing layers), so a layer
        nobody here calls on a graph value has data for input. A model's `call()` input is its
        data."""
        if depth <= 0 or not (fn.is_method and fn.name == "call" and fn.cls.kind in KERAS_KINDS):
            return False
        params = fn.params
        if len(params) < 2 or params[1] != param:
            return False
        layer = False
        for c in self.model.class_chain(fn.cls):
            for base in c.base_names:
                last = base.rsplit(".", 1)[-1]
                if last in _KERAS_MODELS:
                    return False
                if not base.startswith("<local>.") and (last == "Layer" or ".layers." in base):
                    layer = True
        if not layer:
            return False
        for call, owner in self.model.objects.callers_of(fn)[:8]:
            arg = argument_for(fn, call, param)
            if arg is not None and self.carries(arg, owner, depth - 1):
                return True
        return False

    def constructors(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"]) -> List[cst.Call]:
        """The calls a name or `self.attr` is bound to (every binding the file shows reaching
        it), when each binding is a call; else []."""
        if isinstance(expr, cst.Name):
            bindings, kind = self.model.get(Definitions).reaching(expr, fn)
            if kind == "param" or not all(b.kind == "name" for b in bindings):
                return []
            values = [b.value for b in bindings]
        elif isinstance(expr, cst.Attribute) and _is_name(expr.value, "self") and fn is not None:
            values = list(self._self_assigned(fn, expr.attr.value))
        else:
            return []
        return values if values and all(isinstance(v, cst.Call) for v in values) else []

    def builds_network(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"]) -> bool:
        """A name or `self.attr` bound only to Keras layers or models that hold weights (a
        library layer, a local Keras class; not a preprocessing layer, tf52)."""
        built = self.constructors(expr, fn)
        return bool(built) and all(self._constructs_layer(v) and not self.weightless_constructor(v) for v in built)

    def _keras_class(self, value: cst.Call) -> Optional[str]:
        name = self.callee(value) or ""
        return name if name.split(".", 1)[0] in KERAS_ROOTS else None

    def weightless_constructor(self, value: cst.Call) -> bool:
        """`value` builds a Keras layer with no trainable weight (tf52), a Keras loss object
        (tf56), or a `Sequential` of weightless layers."""
        name = self._keras_class(value)
        if name is None:
            return False
        parts = name.split(".")
        last = parts[-1]
        if last in WEIGHTLESS_LAYERS or (last[:1].isupper() and any(p in WEIGHTLESS_NAMESPACES for p in parts[1:-1])):
            return True
        if last == "Sequential" and value.args and isinstance(value.args[0].value, (cst.List, cst.Tuple)):
            parts = [e.value for e in value.args[0].value.elements]
            return bool(parts) and all(isinstance(p, cst.Call) and self.weightless_constructor(p) for p in parts)
        return False

    def metric_constructor(self, value: cst.Call) -> bool:
        """`value` builds a Keras metric (`keras.metrics.AUC()`): its value has no gradient (tf53)."""
        name = self._keras_class(value)
        if name is None:
            return False
        parts = name.split(".")
        return parts[-1][:1].isupper() and any(p in NO_GRADIENT_NAMESPACES for p in parts[1:-1])

    def _is_variable(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        name = self.callee(value)
        if name in WEIGHT_FACTORIES:
            trainable = keyword_argument(value, "trainable")
            return not _is_name(trainable, "False")
        return False

    def _model_call(self, call: cst.Call, fn: Optional["FunctionInfo"]) -> bool:
        func = call.func
        if self._is_variable(call):
            return True
        if self.callee(call) is not None:
            return False  # a library function: it propagates, it does not create
        text = dotted(func)
        if text == "self" and fn is not None and fn.cls is not None and fn.cls.kind in KERAS_KINDS:
            return True  # a Keras model calling itself in train_step
        if text is None:
            if isinstance(func, cst.Subscript):  # `self.blocks[i](x)`
                text = dotted(func.value)
            if text is None:
                return False
        parts = text.split(".")
        if len(parts) >= 2 and parts[0] == "self" and fn is not None and fn.cls is not None:
            if self._layer_attr(fn, parts[1]):
                return True
        last = parts[-1]
        if last in NON_CARRYING_METHODS or last in ("result", "update_state"):  # (a metric's value)
            return False
        return bool(tokens(last) & MODEL_TOKENS) or text in self._models()

    def _models(self) -> Set[str]:
        """Names the file treats as models: `resnet.trainable_variables`, `clf.compile(...)`."""
        if self._model_names is None:
            self._model_names = {
                dotted(node.value) for node, _fn in self.model.attributes
                if node.attr.value in ("trainable_variables", "trainable_weights", "compile", "fit", "train_on_batch")
                and dotted(node.value) is not None
            }
            self._model_names.discard("self")
        return self._model_names

    def _self_assigned(self, fn: "FunctionInfo", attr: str):
        cls = fn.cls
        if cls is None:
            return
        for c in self.model.class_chain(cls):
            for a, value, _node, _method in c.self_assigns:
                if a == attr:
                    yield value

    def layer_constructors(self, fn: "FunctionInfo", attr: str) -> List[cst.Call]:
        """The calls `self.<attr> = ...` is bound to in `fn`'s class (and its bases), when every
        one of them constructs a Keras layer (a library layer or a local Keras class); else [].
        A binding to None (an optional sub-layer) is left out."""
        values = [v for v in self._self_assigned(fn, attr) if not _is_name(v, "None")]
        if not values or not all(isinstance(v, cst.Call) for v in values):
            return []
        return values if self._layer_attr(fn, attr) and all(self._constructs_layer(v) for v in values) else []

    def _constructs_layer(self, value: cst.Call) -> bool:
        name = self.callee(value)
        if name is not None:
            return kinds.classify_framework_base(name, False) in (kinds.KERAS, kinds.KERAS_LEGACY)
        text = dotted(value.func)
        local = self.model.classes.get(text.split(".")[0]) if text else None
        return local is not None and local.kind is not None

    def _layer_attr(self, fn: "FunctionInfo", attr: str) -> bool:
        for value in self._self_assigned(fn, attr):
            if isinstance(value, cst.Call):
                name = self.callee(value)
                if name is not None and kinds.classify_framework_base(name, False) in (kinds.KERAS, kinds.KERAS_LEGACY):
                    return True
                text = dotted(value.func)
                if text and text.split(".")[0] in self.model.classes:
                    local = self.model.classes[text.split(".")[0]]
                    if local.kind is not None:
                        return True
        return False

    def _weight_attr(self, fn: "FunctionInfo", attr: str) -> bool:
        for value in self._self_assigned(fn, attr):
            if isinstance(value, cst.Call):
                if self._is_variable(value):
                    return True
                if _method_name(value) in ("add_weight", "add_variable") and not _is_name(keyword_argument(value, "trainable"), "False"):
                    return True
        return False


# ---- JAX ---------------------------------------------------------------------------------
GRAD_TRANSFORMS = api_names(jax_api.GRAD_TRANSFORMS)
# Every transform that differentiates the function it is given (jx40, jx49): with respect to the
# arguments `argnums` names, or to every primal the call passes.
ARGNUMS_TRANSFORMS = api_names(jax_api.GRAD_TRANSFORMS, jax_api.JACOBIAN_TRANSFORMS)
PRIMALS_AFTER_FUNCTION = api_names(jax_api.PRIMALS_AFTER_FUNCTION)
PRIMALS_IN_SEQUENCE = api_names(jax_api.PRIMALS_IN_SEQUENCE)
DIFFERENTIATING_TRANSFORMS = ARGNUMS_TRANSFORMS | PRIMALS_AFTER_FUNCTION | PRIMALS_IN_SEQUENCE
JAX_STOP_GRADIENT = api_names(jax_api.STOP_GRADIENT)
JAX_NON_CARRYING_ATTRS = api_names(jax_api.NON_CARRYING_ATTRS)
ZERO_GRAD_METHODS = api_names(jax_api.ZERO_GRAD_METHODS)
ZERO_GRAD_FUNCTIONS = api_names(jax_api.ZERO_GRAD_FUNCTIONS)
NUMPY_CONVERSIONS = api_names(jax_api.NUMPY_CONVERSIONS)
PYTHON_VALUE_BUILTINS = api_names(jax_api.PYTHON_VALUE_BUILTINS)
INT_DTYPES = {"int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "bool_"}


def _int_literal(expr) -> Optional[int]:
    if isinstance(expr, cst.Integer):
        return int(expr.value, 0)
    return None


@dataclass
class Target:
    """A function a gradient transform differentiates."""

    fn: "FunctionInfo"
    argnums: Optional[Set[int]] = field(default_factory=lambda: {0})  # None: cannot be told
    has_aux: bool = False
    sites: List[cst.CSTNode] = field(default_factory=list)  # the transform calls / decorators
    # Differentiated only because a primal transform (`jax.vjp`, `jvp`, `check_grads`) takes every
    # argument it passes: with no `argnums` to leave data out, some may be data whose derivative
    # nobody reads.
    every_primal: bool = False


def _argnums(model: "FileModel", call: Optional[cst.Call]) -> Optional[Set[int]]:
    """`argnums=1`, `argnums=(0, 2)`, `argnums=nnx.DiffState(0, ...)`; {0} by default; None when
    it is not a literal."""
    if call is None:
        return {0}
    value = keyword_argument(call, "argnums")
    if value is None:
        value = positional_argument(call, 1) if model.callee(call) in ARGNUMS_TRANSFORMS else None
    if value is None:
        return {0}
    if isinstance(value, cst.Call) and (model.callee(value) or "").endswith("DiffState") and value.args:
        value = value.args[0].value
    n = _int_literal(value)
    if n is not None:
        return {n}
    if isinstance(value, (cst.Tuple, cst.List)):
        out = set()
        for e in value.elements:
            n = _int_literal(e.value)
            if n is None:
                return None
            out.add(n)
        return out
    return None


def argnums_of(model: "FileModel", transform: cst.Call) -> Optional[Set[int]]:
    """The argument positions one gradient-transform call (`jax.grad(f, argnums=1)`)
    differentiates: {0} by default, None when they are not literals."""
    return _argnums(model, transform)


def _primal_argnums(model: "FileModel", call: cst.Call, fn: "FunctionInfo") -> Set[int]:
    """The positions of `fn` a primal transform call differentiates: one per primal it passes
    (`jax.vjp(f, x, y)`: {0, 1}; `jax.jvp(f, (x,), (t,))`: {0}); every position when the count
    cannot be told (`jax.vjp(f, *xs)`, `check_grads(f, args, 2)`)."""
    every = set(range(len(param_names(fn))))
    args = call.args
    if any(a.star == "*" for a in args):
        return every
    if model.callee(call) in PRIMALS_AFTER_FUNCTION:
        primals = [a for a in args[1:] if a.keyword is None]
        return set(range(len(primals)))
    value = keyword_argument(call, "primals") or keyword_argument(call, "args") or positional_argument(call, 1)
    if isinstance(value, (cst.Tuple, cst.List)) and not any(isinstance(e, cst.StarredElement) for e in value.elements):
        return set(range(len(value.elements)))
    return every


def _has_aux(call: Optional[cst.Call]) -> bool:
    if call is None:
        return False
    value = keyword_argument(call, "has_aux")
    return value is not None and not _is_name(value, "False")


def grad_targets(model: "FileModel", scopes: Scopes) -> Dict[int, Target]:
    """Every function given to one of DIFFERENTIATING_TRANSFORMS, by id of its FunctionInfo."""
    out: Dict[int, Target] = {}

    def add(fn: Optional["FunctionInfo"], spec: Optional[cst.Call], site: cst.CSTNode) -> None:
        if fn is None:
            return
        primal = spec is not None and model.callee(spec) in PRIMALS_AFTER_FUNCTION | PRIMALS_IN_SEQUENCE
        argnums = _primal_argnums(model, spec, fn) if primal else _argnums(model, spec)
        target = out.get(id(fn))
        if target is None:
            out[id(fn)] = Target(fn, argnums, _has_aux(spec), [site], primal)
            return
        target.sites.append(site)
        target.every_primal = target.every_primal and primal
        target.has_aux = target.has_aux or _has_aux(spec)
        target.argnums = None if target.argnums is None or argnums is None else target.argnums | argnums

    def partial_of_grad(expr) -> bool:
        return (isinstance(expr, cst.Call) and model.callee(expr) == "functools.partial" and bool(expr.args)
                and model.resolve(expr.args[0].value) in ARGNUMS_TRANSFORMS)

    for call, owner in model.calls:
        if partial_of_grad(call):
            parent = model.parent(call)
            if isinstance(parent, cst.Decorator):  # @partial(jax.grad, argnums=1)
                add(model.function_of.get(model.parent(parent)), call, call)
            continue
        if partial_of_grad(call.func) and call.args:  # partial(jax.grad, argnums=1)(f)
            add(function_value(model, owner, call.args[0].value, scopes), call.func, call)
            continue
        name = model.callee(call)
        if name not in DIFFERENTIATING_TRANSFORMS:
            continue
        parent = model.parent(call)
        if isinstance(parent, cst.Decorator) and name in ARGNUMS_TRANSFORMS:
            add(model.function_of.get(model.parent(parent)), call, call)
        elif call.args and call.args[0].keyword is None and not call.args[0].star:
            add(function_value(model, owner, call.args[0].value, scopes), call, call)
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef):
            for d in fn.node.decorators:
                if model.resolve(d.decorator) in ARGNUMS_TRANSFORMS:
                    add(fn, None, d)
    return out


def param_names(fn: "FunctionInfo") -> List[str]:
    p = fn.node.params
    return [x.name.value for x in (*p.posonly_params, *p.params)]


def differentiated_params(target: Target) -> Optional[Set[str]]:
    fn = target.fn
    params = param_names(fn)
    if fn.is_method and isinstance(fn.node, cst.FunctionDef):
        decorators = {dotted(d.decorator) for d in fn.node.decorators}
        if "staticmethod" not in decorators:
            params = params[1:]  # `jax.grad(self.loss)` differentiates the bound method's arguments
    if target.argnums is None:
        return None
    return {params[i] for i in target.argnums if i < len(params)}


class JaxSources:
    """The functions this file differentiates with a JAX transform (`targets`, by id of their
    FunctionInfo), found once per file: `model.get(JaxSources).targets`. The gradient sources
    in a target are the arguments its `argnums` name (`differentiated_params`); the walk's JAX
    mode and `zero_gradient.Traced` follow what is computed from them."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._targets: Optional[Dict[int, Target]] = None

    @property
    def targets(self) -> Dict[int, "Target"]:
        if self._targets is None:
            self._targets = grad_targets(self.model, self.model.get(Scopes))
        return self._targets


# ---- the frameworks' facts in the one walk -------------------------------------------------
# In a framework's answer: the roots are complete, the walk's common step is skipped.
FINAL = "final"


class FrameworkFacts:
    """What TensorFlow's and JAX's facts (and the distributions' "graph" question) say of one node before the common walk
    (`sources.Walk.roots_in`) goes on: a source (a root set, `weight:` marked), a cut (an
    empty set: `stop_gradient`, metadata, a piecewise-constant op, a Python value), or None
    (nothing: the walk follows the node as it does for torch). Parameters are bound at their
    call sites: a differentiated JAX argument is a source; a helper's parameter carries what its
    callers pass (torch keeps them unbound: `sources.BIND_PARAMETERS`)."""

    FINAL = FINAL

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._tf: Optional[TensorFlowSources] = None
        self._jax: Optional[Dict[int, Set[str]]] = None  # id(fn) -> differentiated params

    def roots(self, walk, expr: cst.CSTNode, framework: str) -> Optional[Set[str]]:
        if framework == "graph":
            from gradscan.semantics.distributions import graph_facts

            return graph_facts(self.model, walk, expr)
        t = type(expr)
        if t is cst.Name:
            return self._name(walk, expr, framework)
        if t is cst.Call:
            return self._tf_call(walk, expr) if framework == "tensorflow" else self._jax_call(walk, expr)
        if t is cst.Attribute:
            attr = expr.attr.value
            if framework == "tensorflow":
                if attr in NON_CARRYING_ATTRS:
                    return set()
                fn = self.model.enclosing_function(expr)
                tf = self.tensorflow
                if (_is_name(expr.value, "self") and fn is not None and tf._weight_attr(fn, attr)) or attr in WEIGHT_ATTRS:
                    return {f"weight:tf:{dotted(expr) or attr}"}
                if _is_name(expr.value, "self") and fn is not None and not tf._layer_attr(fn, attr):
                    cls = _owner_class(fn)
                    if walk.attr_kind(cls, attr) in ("param", "module"):
                        # no trainable variable and no Keras layer by TensorFlow's facts (a
                        # `tf.Variable(0, trainable=False)` counter, a plain object): no weight
                        return {FINAL}
                return None
            if attr in JAX_NON_CARRYING_ATTRS:
                return set()
            return self._traced_self_attr(walk, expr) if framework == "jax" and _is_name(expr.value, "self") else None
        return None

    def _traced_self_attr(self, walk, expr: cst.Attribute) -> Optional[Set[str]]:
        """`self.linear`, `self.w` in a method called on a differentiated nnx model (`m.nll(x)`
        under `nnx.grad`): its layers and parameters are traced, its configuration is not."""
        model = self.model
        fn = model.enclosing_function(expr)
        owner = model.get(Definitions).parameter_of(expr.value, fn)
        held = self.jax_scopes().get(id(owner)) if owner is not None else None
        if held is None or "self" not in held[1]:
            return None
        if walk.attr_kind(_owner_class(fn), expr.attr.value) in ("param", "module"):
            return {"weight:bound:arg:self"}
        return None

    @property
    def tensorflow(self) -> TensorFlowSources:
        if self._tf is None:
            self._tf = self.model.get(TensorFlowSources)
        return self._tf

    def _tf_call(self, walk, call: cst.Call) -> Optional[Set[str]]:
        tf = self.tensorflow
        if tf.callee(call) in NON_CARRYING_FUNCTIONS or _method_name(call) in NON_CARRYING_METHODS:
            return set()
        filled = fill_roots(walk, call, tf.callee(call))
        if filled is not None:
            return filled
        fn = self.model.enclosing_function(call)
        built = tf.constructors(call.func, fn)
        if built and all(tf.metric_constructor(v) for v in built):
            return set()  # a Keras metric's value: no gradient (tf53)
        if built and all(tf.weightless_constructor(v) for v in built):
            # a preprocessing or augmentation layer (tf52): no weight of its own
            out = {FINAL}
            for a in call.args:
                out |= walk.roots(a.value)
            return out
        if tf._model_call(call, fn):
            return {f"weight:tf@{self.model.flow.order(call)}"}
        holder = _called_self_attr(call.func)
        func = call.func
        base_call = isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and dotted(func.value.func) == "super"
        value_method = (isinstance(func, cst.Attribute) and holder is None and not base_call and tf.callee(call) is None
                        and not _is_name(func.value, "self") and func.attr.value not in TENSOR_METHODS)
        if base_call or value_method or (holder is not None and fn is not None and tf.callee(call) is None
                                         and not tf._layer_attr(fn, holder) and not tf._weight_attr(fn, holder)):
            # `self.tokenizer(s)`, `self.vocab.lookup(t)`: an object that is no Keras layer
            # holds no weights; its result carries what it is given. So does a base class's
            # method (`super().call(x)`): the layer's weights are its attributes; and a method
            # of any other object that is not a model (`dist.sample()`, `metric.result()`,
            # `counter.assign_add(1)`): TensorFlow computes with `tf.*` functions, and what
            # an object's method returns is the object's business (a TFP `Categorical`'s
            # sample has no gradient, fact tf35).
            out = {FINAL}
            for a in call.args:
                out |= walk.roots(a.value)
            return out
        return None

    def _jax_call(self, walk, call: cst.Call) -> Optional[Set[str]]:
        if jax_cut(self.model, call):
            return set()
        filled = fill_roots(walk, call, self.model.callee(call))
        if filled is not None:
            return filled
        func = call.func
        if isinstance(func, cst.Name) and self.model.callee(call) is None:
            # calling a traced value: a differentiated model (`m(x)` for `nnx.grad(loss)(model)`)
            weights = {r for r in walk.roots(func) if r.startswith("weight:")}
            return weights or None
        return None

    def _name(self, walk, name: cst.Name, framework: str) -> Optional[Set[str]]:
        model = self.model
        fn = model.enclosing_function(name)
        if framework == "tensorflow":
            tf = self.tensorflow
            if tf._watched is None:
                tf._index()
            if (id(fn), name.value) in tf._watched:
                return {f"weight:watched:{name.value}"}
        owner = model.get(Definitions).parameter_of(name, fn)
        if owner is None:
            return None
        if framework == "jax":
            held = self.jax_scopes().get(id(owner))
            return {f"weight:bound:arg:{name.value}"} if held is not None and name.value in held[1] else None
        if framework == "tensorflow" and (name.value == "y_pred" or self.tensorflow.layer_input(owner, name.value)):
            return {f"weight:bound:input:{name.value}"}
        if owner.context is not None and owner.context.kind == "helper":
            for call, _caller in model.objects.callers_of(owner)[:8]:
                arg = argument_for(owner, call, name.value)
                if arg is not None and any(r.startswith("weight:") for r in walk.roots(arg)):
                    return {f"weight:bound:caller:{name.value}"}
        return None

    def jax_scopes(self) -> Dict[int, Tuple["FunctionInfo", Set[str]]]:
        """The functions JAX traces and their traced parameters, by id: each function a gradient
        transform differentiates with the arguments its `argnums` name, and the functions of the
        file they call by name with a traced argument (`loss` calling `huber(pred - y)`), with
        the parameters that receive one, three calls deep."""
        if self._jax is not None:
            return self._jax
        model = self.model
        scopes = model.get(Scopes)
        found: Dict[int, Tuple["FunctionInfo", Set[str]]] = {}
        self._jax = found
        for key, target in model.get(JaxSources).targets.items():
            params = differentiated_params(target)
            if params:
                found[key] = (target.fn, params)
        walk = model.sources.walk
        todo = list(found.values())
        for _ in range(3):
            new = []
            for fn, _params in todo:
                for call in scopes.calls_within(fn):
                    where = model.enclosing_function(call)
                    target = scopes.lookup(where, call.func.value) if isinstance(call.func, cst.Name) else None
                    if target is None and isinstance(call.func, (cst.Name, cst.Attribute)):
                        # `self.normalise(logits)`, `criterion(logits, y)` with `criterion` an
                        # object of a class of this file: the method the call runs
                        target = model.objects.called_function(call, where)
                    if target is None or id(target) in found or not isinstance(target.node, cst.FunctionDef):
                        continue
                    hot = {p for p in target.params
                           if (a := argument_for(target, call, p)) is not None and walk.live_in(a, "jax")}
                    if (isinstance(call.func, cst.Attribute) and target.is_method and target.params
                            and not _static_method(target) and walk.live_in(call.func.value, "jax")):
                        # `m.nll(x, y)` on a differentiated nnx model: the method computes with a traced `self`
                        hot.add(target.params[0])
                    if hot:
                        found[id(target)] = (target, hot)
                        new.append((target, hot))
            if not new:
                break
            todo = new
        walk.forget("jax")  # answers given while the scopes grew
        return found


# A fill carries its fill value's gradient, not its shape's or its template's (fact jx50):
# `jnp.full_like(h, 0.9)` is a constant even when `h` is traced.
FILL_FACTORIES = {"jax.numpy.full": (1, "fill_value"), "jax.numpy.full_like": (1, "fill_value"), "tensorflow.fill": (1, "value")}


def fill_roots(walk, call: cst.Call, name: Optional[str]) -> Optional[Set[str]]:
    """The walk's whole answer for a fill call (its fill value's roots), else None."""
    if name not in FILL_FACTORIES:
        return None
    position, keyword = FILL_FACTORIES[name]
    value = keyword_argument(call, keyword) or positional_argument(call, position)
    return {FINAL, *walk.roots(value)} if value is not None else set()


def jax_cut(model: "FileModel", call: cst.Call) -> bool:
    """JAX's facts of a call whose result carries no gradient from its arguments: `stop_gradient`,
    a piecewise-constant or integer-valued function or method, a NumPy conversion, a Python
    builtin returning a Python value, a cast to an integer dtype. One answer for the walk's JAX
    mode and the zero-gradient refinement (`semantics.zero_gradient`)."""
    name = model.callee(call)
    if name in JAX_STOP_GRADIENT or name in ZERO_GRAD_FUNCTIONS or name in NUMPY_CONVERSIONS:
        return True
    func = call.func
    if isinstance(func, cst.Name) and func.value in PYTHON_VALUE_BUILTINS and name is None:
        return True
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        if method in ZERO_GRAD_METHODS:
            return True
        if method == "astype" and call.args and int_dtype(call.args[0].value):
            return True
    return False


def _static_method(fn) -> bool:
    return isinstance(fn.node, cst.FunctionDef) and any(dotted(d.decorator) in ("staticmethod", "classmethod") for d in fn.node.decorators)


def _owner_class(fn):
    while fn is not None and fn.cls is None:
        fn = fn.parent
    return fn.cls if fn is not None else None


def _called_self_attr(func: cst.BaseExpression) -> Optional[str]:
    """`attr` of a call of `self.attr(...)` or `self.attr.method(...)`."""
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Attribute) and _is_name(func.value.value, "self"):
        return func.value.attr.value
    if isinstance(func, cst.Attribute) and _is_name(func.value, "self"):
        return func.attr.value
    return None


def int_dtype(expr) -> bool:
    text = dotted(expr) or ""
    if isinstance(expr, cst.SimpleString):
        text = expr.value.strip("'\"")
    return text.rsplit(".", 1)[-1] in INT_DTYPES
