"""Sources: does a value carry gradient from trainable weights?

One module answers it for every framework, each from its facts in `gradscan/frameworks/`, and
every analysis is built once per file and memoised with the model (`model.get(...)`):

- torch: `intent.Sources` (a weighted submodule call `self.fc(x)`, a parameter read, a module
  object in a script, a helper returning one; names followed to their definitions);
- TensorFlow / Keras: `TensorFlowSources` (a layer or model output, a trainable variable or
  `add_weight`, a tape-watched tensor, a Keras layer's `call()` input (the previous layer's
  output), `y_pred`, and a helper's parameter its callers pass such a value);
- JAX: `JaxSources` (the arguments `jax.grad`/`value_and_grad`/`nnx.grad` differentiate, by
  `argnums`, and every name computed from them, in the differentiated function and the helpers
  it passes them to);
- distributions: `distributions.from_graph` (module outputs, parameters, `pyro.param`s, the
  inputs of a differentiable function).

`model.get(Sources).carries(expr)` asks the analysis of the framework of `expr`'s context.
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
from gradscan.semantics.summaries import Summaries
from gradscan.semantics.walk import descendants, target_names

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel, FunctionInfo

_UNSET = object()

# ---- TensorFlow / Keras ------------------------------------------------------------------
WEIGHT_FACTORIES = api_names(tf_api.WEIGHT_FACTORIES)
WEIGHT_ATTRS = api_names(tf_api.WEIGHT_ATTRS)
NON_CARRYING_ATTRS = api_names(tf_api.NON_CARRYING_ATTRS)
NON_CARRYING_FUNCTIONS = api_names(tf_api.NON_CARRYING_FUNCTIONS)
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
        # functions whose parameters are taken to carry gradient while their returns are asked
        self._assumed: Set[int] = set()
        self._dead_returns: Dict[int, bool] = {}

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

    def carries(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"], depth: int = 4, seen: Optional[Set[str]] = None) -> bool:
        if self._watched is None:
            self._index()
        seen = set() if seen is None else seen
        todo = [expr]
        while todo:
            node = todo.pop()
            t = type(node)
            if t is cst.Call:
                name = self.callee(node)
                if name in NON_CARRYING_FUNCTIONS:
                    continue
                if self._model_call(node, fn):
                    return True
                if name is None and self._returns_no_gradient(node, fn, depth):
                    continue
                todo.extend(a.value for a in node.args)
                if isinstance(node.func, cst.Call):  # `tf.keras.layers.Dense(3)(x)`
                    todo.append(node.func)
                continue
            if t is cst.Attribute:
                if node.attr.value in NON_CARRYING_ATTRS:
                    continue
                if _is_name(node.value, "self") and fn is not None and self._weight_attr(fn, node.attr.value):
                    return True
                if node.attr.value in WEIGHT_ATTRS:
                    return True
                continue
            if t is cst.Name:
                key = (id(fn), node.value)
                if key in self._watched:
                    return True
                if depth <= 0 or node.value in seen:
                    continue
                seen.add(node.value)
                values = self.values(fn, node.value)
                if not values and fn is not None:
                    # a module-level variable (`v = tf.Variable(...)`) used in a function
                    mod_values = self.values(None, node.value)
                    if any(self._is_variable(v) for v in mod_values):
                        return True
                for value in values:
                    if self.carries(value, fn, depth - 1, seen):
                        return True
                if not values and fn is not None and node.value in fn.params:
                    if id(fn) in self._assumed:
                        return True
                    if node.value == "y_pred" or self.layer_input(fn, node.value) or self._argument_carries(fn, node.value, depth - 1):
                        return True
                continue
            if t in (cst.Lambda, cst.Comparison, cst.SimpleString, cst.Integer, cst.Float):
                continue
            if t is cst.Subscript:
                todo.append(node.value)
                continue
            todo.extend(c for c in node.children if isinstance(c, cst.CSTNode))
        return False

    def _returns_no_gradient(self, call: cst.Call, fn: Optional["FunctionInfo"], depth: int) -> bool:
        """`call` runs a function of this file every return of which carries nothing even if
        all its parameters did (`return tf.one_hot(tf.argmax(logits + noise, -1), depth)`: a
        sampled index or its one-hot): what it returns cannot carry a gradient, whatever it
        is given."""
        if depth <= 0:
            return False
        target = self.model.objects.called_function(call, fn)
        if target is None or not target.returns or target.is_method and target.name == "call":
            return False
        key = id(target)
        if key in self._dead_returns:
            return self._dead_returns[key]
        self._dead_returns[key] = False  # recursion guard: unknown is "may carry"
        self._assumed.add(key)
        try:
            dead = all(
                type(r) is cst.Return and r.value is not None and not self.carries(r.value, target, depth - 1)
                for r in target.returns
            )
        finally:
            self._assumed.discard(key)
        # `carries` also answers no when its depth runs out: the function's summary (the flow's
        # walk, whose unknowns carry) must agree that no parameter reaches what it returns.
        if dead:
            summaries = self.model.get(Summaries)
            dead = not any(summaries.carries(target, p) for p in target.params if p not in ("self", "cls"))
        self._dead_returns[key] = dead
        return dead

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

    def _argument_carries(self, fn: "FunctionInfo", param: str, depth: int) -> bool:
        """A helper's parameter carries gradient when a caller passes it a value that does."""
        if depth <= 0 or fn.context is None or fn.context.kind != "helper":
            return False
        for call, owner in self.model.objects.callers_of(fn)[:8]:
            value = argument_for(fn, call, param)
            if value is not None and self.carries(value, owner, depth):
                return True
        return False

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
        if last in ("numpy", "predict", "result", "update_state", "get_weights"):
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


def _argnums(model: "FileModel", call: Optional[cst.Call]) -> Optional[Set[int]]:
    """`argnums=1`, `argnums=(0, 2)`, `argnums=nnx.DiffState(0, ...)`; {0} by default; None when
    it is not a literal."""
    if call is None:
        return {0}
    value = keyword_argument(call, "argnums")
    if value is None:
        value = positional_argument(call, 1) if model.callee(call) in GRAD_TRANSFORMS else None
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


def _has_aux(call: Optional[cst.Call]) -> bool:
    if call is None:
        return False
    value = keyword_argument(call, "has_aux")
    return value is not None and not _is_name(value, "False")


def grad_targets(model: "FileModel", scopes: Scopes) -> Dict[int, Target]:
    """Every function given to one of GRAD_TRANSFORMS, by id of its FunctionInfo."""
    out: Dict[int, Target] = {}

    def add(fn: Optional["FunctionInfo"], spec: Optional[cst.Call], site: cst.CSTNode) -> None:
        if fn is None:
            return
        argnums = _argnums(model, spec)
        target = out.get(id(fn))
        if target is None:
            out[id(fn)] = Target(fn, argnums, _has_aux(spec), [site])
            return
        target.sites.append(site)
        target.has_aux = target.has_aux or _has_aux(spec)
        target.argnums = None if target.argnums is None or argnums is None else target.argnums | argnums

    def partial_of_grad(expr) -> bool:
        return (isinstance(expr, cst.Call) and model.callee(expr) == "functools.partial" and bool(expr.args)
                and model.resolve(expr.args[0].value) in GRAD_TRANSFORMS)

    for call, owner in model.calls:
        if partial_of_grad(call):
            parent = model.parent(call)
            if isinstance(parent, cst.Decorator):  # @partial(jax.grad, argnums=1)
                add(model.function_of.get(model.parent(parent)), call, call)
            continue
        if partial_of_grad(call.func) and call.args:  # partial(jax.grad, argnums=1)(f)
            add(function_value(model, owner, call.args[0].value, scopes), call.func, call)
            continue
        if model.callee(call) not in GRAD_TRANSFORMS:
            continue
        parent = model.parent(call)
        if isinstance(parent, cst.Decorator):
            add(model.function_of.get(model.parent(parent)), call, call)
        elif call.args and call.args[0].keyword is None and not call.args[0].star:
            add(function_value(model, owner, call.args[0].value, scopes), call, call)
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef):
            for d in fn.node.decorators:
                if model.resolve(d.decorator) in GRAD_TRANSFORMS:
                    add(fn, None, d)
    return out


class Traced:
    """Which names, in a function differentiated by a gradient transform and in the helpers it
    passes traced values to, hold values that depend on the differentiated arguments."""

    def __init__(self, model: "FileModel", scopes: Scopes) -> None:
        self.model = model
        self.scopes = scopes
        self.names: Dict[int, Set[str]] = {}  # id(fn) -> traced names (its own and nested scopes)

    def traced(self, expr: cst.CSTNode, names: Set[str]) -> bool:
        model = self.model
        t = type(expr)
        if t is cst.Name:
            return expr.value in names
        if t is cst.Attribute:
            if expr.attr.value in JAX_NON_CARRYING_ATTRS:
                return False
            return self.traced(expr.value, names)
        if t is cst.Call:
            func = expr.func
            name = model.callee(expr)
            if name in JAX_STOP_GRADIENT or name in ZERO_GRAD_FUNCTIONS or name in NUMPY_CONVERSIONS:
                return False
            if isinstance(func, cst.Name) and func.value in PYTHON_VALUE_BUILTINS and name is None:
                return False
            if isinstance(func, cst.Attribute):
                method = func.attr.value
                if method in ZERO_GRAD_METHODS:
                    return False
                if method == "astype" and expr.args and self._int_dtype(expr.args[0].value):
                    return False
            if any(self.traced(a.value, names) for a in expr.args):
                return True
            return self.traced(func, names)
        if t is cst.Subscript:
            return self.traced(expr.value, names)
        if t in (cst.Comparison, cst.Lambda, cst.SimpleString, cst.FormattedString, cst.Integer, cst.Float):
            return False
        if t is cst.UnaryOperation and isinstance(expr.operator, cst.Not):
            return False
        if t is cst.IfExp:
            return self.traced(expr.body, names) or self.traced(expr.orelse, names)
        if t is cst.Arg:
            return self.traced(expr.value, names)
        return any(self.traced(c, names) for c in expr.children)

    def _int_dtype(self, expr) -> bool:
        text = dotted(expr) or ""
        if isinstance(expr, cst.SimpleString):
            text = expr.value.strip("'\"")
        return text.rsplit(".", 1)[-1] in INT_DTYPES

    def names_of(self, fn: "FunctionInfo", params: Set[str]) -> Set[str]:
        """The traced names of `fn` (with its nested functions) given its traced parameters."""
        key = id(fn)
        if key in self.names:
            return self.names[key]
        names = set(params)
        self.names[key] = names
        body = fn.node.body
        stores: List[Tuple[cst.BaseExpression, List[str]]] = []

        model = self.model
        for node, owner in model.assignments:
            if owner is None or not self._within(owner, fn):
                continue
            if isinstance(node, cst.Assign):
                stores.append((node.value, [n for t in node.targets for n in target_names(t.target, items=True)]))
            elif isinstance(node, cst.AugAssign):
                stores.append((node.value, target_names(node.target, items=True)))
            elif node.value is not None:
                stores.append((node.value, target_names(node.target, items=True)))
        for node in descendants(body):
            if isinstance(node, (cst.For, cst.CompFor)):
                stores.append((node.iter, target_names(node.target, items=True)))
            elif isinstance(node, cst.NamedExpr):
                stores.append((node.value, target_names(node.target, items=True)))
            elif isinstance(node, cst.WithItem) and node.asname is not None:
                stores.append((node.item, target_names(node.asname.name, items=True)))
        for _ in range(4):  # to a fixed point (loops carry values backwards)
            before = len(names)
            for value, targets in stores:
                if targets and not set(targets) <= names and self.traced(value, names):
                    names.update(targets)
            if len(names) == before:
                break
        return names

    @staticmethod
    def _within(owner: "FunctionInfo", fn: "FunctionInfo") -> bool:
        while owner is not None:
            if owner is fn:
                return True
            owner = owner.parent
        return False


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
    in a target are the arguments its `argnums` name (`differentiated_params`); `Traced`
    follows what is computed from them."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._targets: Optional[Dict[int, Target]] = None

    @property
    def targets(self) -> Dict[int, "Target"]:
        if self._targets is None:
            self._targets = grad_targets(self.model, self.model.get(Scopes))
        return self._targets


# ---- one entry point -----------------------------------------------------------------------
class GradientSources:
    """`model.sources`: the file's source analyses, one per framework, each built once, and
    `carries(expr)`: does the value of `expr` carry gradient from what is trained, asked of the
    analysis of the framework whose differentiable context `expr` is in."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._traced: Optional[Traced] = None

    @property
    def torch(self):
        from gradscan.semantics.intent import Sources

        return self.model.get(Sources)

    @property
    def tensorflow(self) -> TensorFlowSources:
        return self.model.get(TensorFlowSources)

    @property
    def jax(self) -> JaxSources:
        return self.model.get(JaxSources)

    def from_graph(self, expr: cst.BaseExpression, scope: Optional["FunctionInfo"] = None) -> bool:
        """The distributions' question: does the value come from the graph at all (module
        outputs, parameters, inputs of a differentiable function) rather than constants,
        buffers, configuration or detached values (`distributions.from_graph`)."""
        from gradscan.semantics.distributions import from_graph

        return from_graph(self.model, expr, scope)

    def carries(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"] = None) -> bool:
        model = self.model
        fn = fn if fn is not None else model.enclosing_function(expr)
        ctx = model.context_of(expr)
        framework = ctx.framework if ctx is not None else None
        if framework == "torch":
            return self.torch.is_live(expr)
        if framework == "tensorflow":
            return self.tensorflow.carries(expr, fn)
        if framework == "jax":
            return self._jax_traced(expr, fn)
        return self.from_graph(expr, fn)

    def _jax_traced(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"]) -> bool:
        """Computed from the arguments the enclosing differentiated function's argnums name."""
        targets = self.jax.targets
        scope = fn
        while scope is not None and id(scope) not in targets:
            scope = scope.parent
        if scope is None:
            return False
        params = differentiated_params(targets[id(scope)])
        if not params:
            return False
        if self._traced is None:
            self._traced = Traced(self.model, self.model.get(Scopes))
        return self._traced.traced(expr, self._traced.names_of(scope, params))
