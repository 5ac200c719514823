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

from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import libcst as cst

from gradscan.frameworks import names as api_names
from gradscan.frameworks import tensorflow as tf_api
from gradscan.semantics import classes as kinds
from gradscan.semantics.arguments import argument_for, keyword_argument
from gradscan.semantics.flow import tokens
from gradscan.semantics.names import dotted
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
        self._assigns: Optional[Dict[Tuple[int, str], List[cst.BaseExpression]]] = None
        self._watched: Optional[Set[Tuple[int, str]]] = None
        self._model_names: Optional[Set[str]] = None

    def _index(self) -> None:
        self._assigns = {}
        self._watched = set()
        for node, fn in self.model.assignments:
            if isinstance(node, cst.Assign):
                targets = [t.target for t in node.targets]
            elif isinstance(node, cst.AugAssign):
                targets = [node.target]
            else:
                targets = [node.target]
            if node.value is None:
                continue
            for target in targets:
                for name in target_names(target):
                    self._assigns.setdefault((id(fn), name), []).append(node.value)
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
        if self._assigns is None:
            self._index()
        return self._assigns.get((id(fn), name), [])

    def carries(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"], depth: int = 4, seen: Optional[Set[str]] = None) -> bool:
        if self._assigns is None:
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

    def layer_input(self, fn: "FunctionInfo", param: str) -> bool:
        """`param` is the input of a Keras layer's `call()`: inside a model, the previous
        layer's output, which carries the gradient of every weight before this layer. A
        model's `call()` input is its data (a model is differentiated from its inputs on)."""
        if not (fn.is_method and fn.name == "call" and fn.cls.kind in KERAS_KINDS):
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
        return layer

    def _argument_carries(self, fn: "FunctionInfo", param: str, depth: int) -> bool:
        """A helper's parameter carries gradient when a caller passes it a value that does."""
        if depth <= 0 or fn.context is None or fn.context.kind != "helper":
            return False
        for call, owner in self.model.calls:
            func = call.func
            if fn.is_method:
                if not (isinstance(func, cst.Attribute) and func.attr.value == fn.name and _is_name(func.value, "self")):
                    continue
            elif not _is_name(func, fn.name):
                continue
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

