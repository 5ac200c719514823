"""GS4xx: TensorFlow and Keras: variables Keras does not track, NumPy and non-differentiable ops
on the loss path, losses computed after the tape stopped, tapes that watch nothing, and freezes
that never take effect.

Which Keras a file uses matters (facts tf25, tf40, tf45): the semantic model classifies a class
deriving from `keras.*` as Keras 3 and one deriving from `tf.keras.*` as Keras 3 unless the file
imports `tf_keras`, mentions `TF_USE_LEGACY_KERAS`, or the configuration says `keras = "legacy"`.

The helpers below answer the questions every rule of the family asks:
- where a node is evaluated (`_tf_site`): a GradientTape body, a Keras `call`/`compute_loss` (and
  what it calls), or a helper called inside a tape block; `None` elsewhere (a `train_step`
  outside its tape, metrics, `tf.data` code, inference);
- whether the value reaches the loss (`_reaches_loss`): what `call()` returns or what
  `tape.gradient` differentiates, never a `train_step`'s metrics dictionary;
- whether an expression carries gradient at all (`_Taint`): the output of a layer or model call,
  a trainable variable, a watched tensor, or arithmetic on them. Data, labels, shapes and
  configuration do not, which keeps the rules silent on masks, indices and label casts.
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics import classes as kinds
from gradscan.semantics.contexts import is_gradient_tape
from gradscan.semantics.flow import tokens
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted

TF_VARIABLE = {"tensorflow.Variable", "tensorflow.compat.v1.Variable"}
KERAS_VARIABLE = {
    "keras.Variable", "keras.backend.Variable", "keras.src.backend.Variable",
    "keras.src.backend.common.variables.Variable", "keras.src.backend.common.variables.KerasVariable",
    "tensorflow.keras.Variable",
}
KERAS_KINDS = (kinds.KERAS, kinds.KERAS_LEGACY)
# Methods whose return value is a differentiable output.
OUTPUT_METHODS = {"call", "__call__", "compute_loss"}
# Callables named like these compute differentiable values (`model(x)`, `self.encoder(h)`).
MODEL_TOKENS = {
    "model", "net", "network", "encoder", "decoder", "generator", "discriminator", "critic", "actor",
    "policy", "backbone", "classifier", "head", "layer", "layers", "block", "blocks", "mlp", "dense",
    "conv", "rnn", "lstm", "gru", "embedding", "transformer", "unet", "vae", "autoencoder", "projector",
    "predictor", "module", "cell", "attention", "ffn", "proj", "linear", "logits", "nn",
}
# Attribute reads and calls that give metadata, not a differentiable value.
META_ATTRS = {"shape", "dtype", "ndim", "name", "device", "rank", "size"}
META_FUNCS = {
    "tensorflow.shape", "tensorflow.rank", "tensorflow.size", "tensorflow.zeros_like", "tensorflow.ones_like",
    "tensorflow.stop_gradient", "tensorflow.argmax", "tensorflow.argmin", "tensorflow.math.argmax",
    "tensorflow.math.argmin", "tensorflow.equal", "tensorflow.not_equal", "tensorflow.math.equal",
    "tensorflow.is_nan", "tensorflow.math.is_nan", "tensorflow.math.is_finite", "tensorflow.where",
    "tensorflow.compat.v1.shape", "tensorflow.keras.backend.shape", "keras.ops.shape",
    "keras.ops.stop_gradient", "keras.src.ops.stop_gradient", "tensorflow.keras.backend.stop_gradient",
    "keras.ops.argmax", "keras.ops.argmin",
}


# A finding of the flow-based rules needs a tape block or a Keras `call`/`compute_loss` (or a
# tf.Module `__call__`) in the file: these are the engine's cheap pre-parse triggers for them.
_SITE_TRIGGERS = ("GradientTape", "def call", "compute_loss", "__call__")


# ============================================================================ small helpers


def _callee(model: FileModel, call: cst.Call) -> Optional[str]:
    """`model.callee(call)`, memoized: every rule of the family asks it for every call."""
    cache = getattr(model, "_gs4_callee", None)
    if cache is None:
        cache = model._gs4_callee = {}
    key = id(call)
    if key not in cache:
        cache[key] = model.callee(call)
    return cache[key]


def _kwarg(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _arg(call: cst.Call, pos: int, name: str) -> Optional[cst.BaseExpression]:
    value = _kwarg(call, name)
    if value is not None:
        return value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[pos].value if len(positional) > pos else None


def _is_name(expr, value: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == value


def _method_name(call: cst.Call) -> Optional[str]:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def _top_method(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    return fn


def _context_root(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    """The root whose context `fn` belongs to (itself, its enclosing def, or the root a helper was
    reached from)."""
    while fn is not None and fn.context is None:
        fn = fn.parent
    if fn is None:
        return None
    if fn.context.kind == "helper":
        return fn.context.root
    return fn


def _is_output_method(fn: Optional[FunctionInfo]) -> bool:
    """`call`/`__call__`/`compute_loss` of a Keras class or `__call__` of a tf.Module."""
    return (
        fn is not None and fn.cls is not None and fn.parent is None
        and (fn.cls.kind in KERAS_KINDS or (fn.cls.kind == kinds.TF_MODULE and fn.name == "__call__"))
        and fn.name in OUTPUT_METHODS
    )


def _enclosing_tape(model: FileModel, node: cst.CSTNode) -> Optional[cst.With]:
    """The innermost `with tf.GradientTape() ...:` block around `node` in its own function."""
    for anc in model.ancestors(node):
        if isinstance(anc, cst.With) and anc in _tape_withs(model):
            return anc
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return None
    return None


def _tape_withs(model: FileModel) -> Set[cst.With]:
    """Tape blocks: `with tf.GradientTape() as t:` and `t = tf.GradientTape(); with t:`."""
    cached = getattr(model, "_gs4_tape_withs", None)
    if cached is not None:
        return cached
    out: Set[cst.With] = set(model.tape_blocks)
    tape_names = _tape_variables(model)
    for block in model.tape_blocks:  # `with tf.GradientTape(persistent=True) as t:` ... `with t:`
        for item in block.items:
            if is_gradient_tape(model, item.item) and item.asname is not None and isinstance(item.asname.name, cst.Name):
                tape_names.add((model.enclosing_function(block), item.asname.name.value))
    for node, fn in model.withs:
        for item in node.items:
            if isinstance(item.item, cst.Name) and (fn, item.item.value) in tape_names:
                out.add(node)
    model._gs4_tape_withs = out
    return out


def _tape_variables(model: FileModel) -> Set[Tuple[Optional[FunctionInfo], str]]:
    """(scope, name) of `name = tf.GradientTape(...)` assignments."""
    out = set()
    for node, fn in model.assignments:
        if isinstance(node, cst.Assign) and is_gradient_tape(model, node.value):
            for t in node.targets:
                if isinstance(t.target, cst.Name):
                    out.add((fn, t.target.value))
    return out


def _tape_name(item: cst.WithItem) -> Optional[str]:
    if item.asname is not None and isinstance(item.asname.name, cst.Name):
        return item.asname.name.value
    if isinstance(item.item, cst.Name):
        return item.item.value
    return None


def _in_data_pipeline(model: FileModel, node: cst.CSTNode) -> bool:
    """Inside `dataset.map(...)`, `tf.data` or preprocessing code."""
    for anc in model.ancestors(node):
        if isinstance(anc, cst.Call):
            name = _method_name(anc)
            if name in ("map", "flat_map", "interleave", "filter", "from_generator", "apply"):
                return True
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            break
    return False


def _called_in_tape(model: FileModel, fn: FunctionInfo, depth: int = 3) -> bool:
    """Some call of `fn` (a method via `self.`, a function by name) is inside a tape block or a
    Keras `call`, directly or through other helpers."""
    top = _top_method(fn)
    if depth <= 0 or top is None:
        return False
    for call, owner in model.calls:
        func = call.func
        if top.is_method:
            ok = isinstance(func, cst.Attribute) and func.attr.value == top.name and _is_name(func.value, "self")
        else:
            ok = _is_name(func, top.name)
        if not ok:
            continue
        if _enclosing_tape(model, call) is not None:
            return True
        if _is_output_method(_context_root(owner)):
            return True
        if owner is not None and owner.context is not None and owner.context.kind == "helper" and _top_method(owner) is not top:
            if _called_in_tape(model, owner, depth - 1):
                return True
    return False


CUSTOM_GRADIENT = {"tensorflow.custom_gradient", "tensorflow.keras.ops.custom_gradient", "keras.ops.custom_gradient"}


# Decorated functions whose body the tape does not record op by op: `tf.custom_gradient` defines
# the gradient itself, a `tf.numpy_function`/`tf.py_function` body runs outside the graph (GS403
# reports the call of such a function, not what happens inside it).
_OWN_GRADIENT = CUSTOM_GRADIENT | {
    "tensorflow.numpy_function", "tensorflow.py_function", "tensorflow.compat.v1.numpy_function",
    "tensorflow.compat.v1.py_function",
}


def _custom_gradient_functions(model: FileModel) -> Set[int]:
    cached = getattr(model, "_gs4_custom_gradient", None)
    if cached is not None:
        return cached
    out: Set[int] = set()
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef) and any(
            (model.resolve(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "") in _OWN_GRADIENT
            for d in fn.node.decorators
        ):
            out.add(id(fn))
    for call, owner in model.calls:
        if _callee(model, call) in CUSTOM_GRADIENT and call.args:
            target = _function_named(model, owner, call.args[0].value)
            info = model.function_of.get(target) if target is not None else None
            if info is not None:
                out.add(id(info))
    model._gs4_custom_gradient = out
    return out


def _in_custom_gradient(model: FileModel, fn: Optional[FunctionInfo]) -> bool:
    marked = _custom_gradient_functions(model)
    while fn is not None:
        if id(fn) in marked:
            return True
        fn = fn.parent
    return False


def _tf_site(model: FileModel, node: cst.CSTNode) -> Optional[str]:
    """Where `node` is evaluated, if a gradient is recorded there: "tape", "call", "helper"."""
    ctx = model.context_of(node)
    if ctx is None or ctx.framework != "tensorflow":
        return None
    fn = model.enclosing_function(node)
    if _in_custom_gradient(model, fn):
        return None  # the function defines its own gradient (a straight-through round, a clip)
    if _enclosing_tape(model, node) is not None:
        return "tape"
    if _is_output_method(_context_root(fn)):
        return "call"
    if ctx.kind == "helper" and fn is not None and _called_in_tape(model, fn):
        return "helper"
    return None


def _accept_return(fn: FunctionInfo) -> bool:
    return _is_output_method(fn)


def _reaches_loss(model: FileModel, node: cst.CSTNode, barrier=None):
    return model.flow.reaches_output(node, barrier=barrier, accept_return=_accept_return, module_level=True)


def _tf_dtype_kind(model: FileModel, expr: Optional[cst.BaseExpression]) -> Optional[str]:
    """"int", "bool", "float", "string" for a dtype expression (`tf.int32`, "float32"), else None."""
    if expr is None:
        return None
    text = None
    if isinstance(expr, cst.SimpleString):
        text = expr.value.strip("'\"")
    else:
        q = model.resolve(expr) or dotted(expr) or ""
        text = q.rsplit(".", 1)[-1]
    if not text:
        return None
    if text.startswith(("int", "uint", "qint", "quint")):
        return "int"
    if text == "bool":
        return "bool"
    if text.startswith(("float", "bfloat", "half", "double", "complex")):
        return "float"
    if text == "string":
        return "string"
    return None


# ============================================================================ taint


class _Taint:
    """Does an expression carry gradient: a layer or model output, a trainable variable, a
    watched tensor, or arithmetic on them? Function inputs, labels, masks and shapes do not."""

    def __init__(self, model: FileModel) -> None:
        self.model = model
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
                for name in _names_in_target(target):
                    self._assigns.setdefault((id(fn), name), []).append(node.value)
        for call, fn in self.model.calls:
            if _method_name(call) == "watch" and call.args:
                for sub in _walk(call.args[0].value):
                    if isinstance(sub, cst.Name):
                        self._watched.add((id(fn), sub.value))

    def values(self, fn: Optional[FunctionInfo], name: str) -> List[cst.BaseExpression]:
        if self._assigns is None:
            self._index()
        return self._assigns.get((id(fn), name), [])

    def carries(self, expr: cst.BaseExpression, fn: Optional[FunctionInfo], depth: int = 4, seen: Optional[Set[str]] = None) -> bool:
        if self._assigns is None:
            self._index()
        seen = set() if seen is None else seen
        model = self.model
        todo = [expr]
        while todo:
            node = todo.pop()
            t = type(node)
            if t is cst.Call:
                name = _callee(model, node)
                if name in META_FUNCS:
                    continue
                if self._model_call(node, fn):
                    return True
                todo.extend(a.value for a in node.args)
                if isinstance(node.func, cst.Call):  # `tf.keras.layers.Dense(3)(x)`
                    todo.append(node.func)
                continue
            if t is cst.Attribute:
                if node.attr.value in META_ATTRS:
                    continue
                if _is_name(node.value, "self") and fn is not None and self._weight_attr(fn, node.attr.value):
                    return True
                if node.attr.value in ("kernel", "bias", "embeddings", "trainable_variables", "trainable_weights"):
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
                    if node.value == "y_pred" or self._argument_carries(fn, node.value, depth - 1):
                        return True
                continue
            if t in (cst.Lambda, cst.Comparison, cst.SimpleString, cst.Integer, cst.Float):
                continue
            if t is cst.Subscript:
                todo.append(node.value)
                continue
            todo.extend(c for c in node.children if isinstance(c, cst.CSTNode))
        return False

    def _argument_carries(self, fn: FunctionInfo, param: str, depth: int) -> bool:
        """A helper's parameter carries gradient when a caller passes it a value that does."""
        if depth <= 0 or fn.context is None or fn.context.kind != "helper":
            return False
        params = fn.params
        if fn.is_method and params and params[0] in ("self", "cls"):
            params = params[1:]
        index = params.index(param) if param in params else None
        for call, owner in self.model.calls:
            func = call.func
            if fn.is_method:
                if not (isinstance(func, cst.Attribute) and func.attr.value == fn.name and _is_name(func.value, "self")):
                    continue
            elif not _is_name(func, fn.name):
                continue
            value = _kwarg(call, param)
            if value is None and index is not None:
                positional = [a for a in call.args if a.keyword is None and not a.star]
                value = positional[index].value if len(positional) > index else None
            if value is not None and self.carries(value, owner, depth):
                return True
        return False

    def _is_variable(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        name = _callee(self.model, value)
        if name in TF_VARIABLE or name in KERAS_VARIABLE:
            trainable = _kwarg(value, "trainable")
            return not _is_name(trainable, "False")
        return False

    def _model_call(self, call: cst.Call, fn: Optional[FunctionInfo]) -> bool:
        model = self.model
        func = call.func
        if self._is_variable(call):
            return True
        if _callee(model, call) is not None:
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

    def _self_assigned(self, fn: FunctionInfo, attr: str):
        cls = fn.cls
        if cls is None:
            return
        for c in self.model.class_chain(cls):
            for a, value, _node, _method in c.self_assigns:
                if a == attr:
                    yield value

    def _layer_attr(self, fn: FunctionInfo, attr: str) -> bool:
        for value in self._self_assigned(fn, attr):
            if isinstance(value, cst.Call):
                name = _callee(self.model, value)
                if name is not None and kinds.classify_framework_base(name, False) in (kinds.KERAS, kinds.KERAS_LEGACY):
                    return True
                text = dotted(value.func)
                if text and text.split(".")[0] in self.model.classes:
                    local = self.model.classes[text.split(".")[0]]
                    if local.kind is not None:
                        return True
        return False

    def _weight_attr(self, fn: FunctionInfo, attr: str) -> bool:
        for value in self._self_assigned(fn, attr):
            if isinstance(value, cst.Call):
                if self._is_variable(value):
                    return True
                if _method_name(value) in ("add_weight", "add_variable") and not _is_name(_kwarg(value, "trainable"), "False"):
                    return True
        return False


def _names_in_target(target) -> List[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _names_in_target(e.value)]
    if isinstance(target, cst.StarredElement):
        return _names_in_target(target.value)
    return []


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        todo.extend(c for c in n.children if isinstance(c, cst.CSTNode))


def _taint(model: FileModel) -> _Taint:
    cached = getattr(model, "_gs4_taint", None)
    if cached is None:
        cached = _Taint(model)
        model._gs4_taint = cached
    return cached


# ============================================================================ GS401


# Names that say a class tracks its variables by hand (or exposes them itself).
_TRACKING_NAMES = {
    "trainable_weights", "trainable_variables", "_trainable_weights", "_trainable_variables",
    "_track_variable", "_track_variables", "_track_trackable", "weights", "variables", "_tracked",
}


def _class_tracks_by_hand(model: FileModel, cls) -> bool:
    for c in model.class_chain(cls):
        if any(name in _TRACKING_NAMES for name in c.methods):
            return True
        for node in _walk(c.node.body):
            if isinstance(node, cst.Attribute) and node.attr.value in _TRACKING_NAMES and _is_name(node.value, "self"):
                return True
    return False


def _assigned_state(model: FileModel, cls, attr: str) -> bool:
    """`self.attr.assign(...)` / `assign_add` / `assign_sub` somewhere in the class: a state
    variable (a counter, a running statistic), not a weight."""
    for c in model.class_chain(cls):
        for node in _walk(c.node.body):
            if (
                isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in ("assign", "assign_add", "assign_sub", "scatter_update", "scatter_nd_update")
                and dotted(node.func.value) == f"self.{attr}"
            ):
                return True
    return False


def _variable_not_trainable(model: FileModel, call: cst.Call) -> bool:
    if _is_name(_kwarg(call, "trainable"), "False"):
        return True
    if _tf_dtype_kind(model, _kwarg(call, "dtype")) in ("int", "bool", "string"):
        return True
    init = _arg(call, 0, "initial_value")
    if isinstance(init, (cst.Integer, cst.SimpleString)) or _is_name(init, "True") or _is_name(init, "False"):
        return True  # tf.Variable(0): an integer counter, never a trainable weight
    return False


class UntrackedTfVariable(Rule):
    code = "GS401"
    name = "untracked-tf-variable"
    framework = "tensorflow"
    summary = "A raw `tf.Variable` attribute of a Keras 3 layer or model is not tracked: `fit()` never trains it"
    message = (
        "raw tf.Variable stored on a Keras 3 layer/model is not tracked: it is missing from "
        "trainable_variables, so fit() and optimizers over model.trainable_variables never update it"
    )
    hint = "use `self.add_weight(...)` or `keras.Variable(...)`"
    facts = ("tf25", "tf40", "tf45")
    triggers = ("Variable",)
    doc = """
    ## What it does
    Flags `self.x = tf.Variable(...)` in a Keras 3 layer or model: a class deriving from
    `keras.layers.Layer`/`keras.Model` (`import keras`, `from keras import layers`), or from
    `tf.keras.*` (`import tensorflow as tf`, `from tensorflow import keras`) when the file does
    not select legacy Keras.

    ## Why it breaks gradients
    Keras 3 tracks only its own variables (`add_weight`, `keras.Variable`) and sub-layers. A raw
    `tf.Variable` attribute is left out of `trainable_variables`: `fit()` and any optimizer
    applied to `model.trainable_variables` never update it, silently, and it is missing from
    saved weights (facts tf25, tf40). `tape.gradient(loss, model.w)` still returns a gradient
    if asked for it directly, so the model looks fine until you notice the weight never moves.

    Keras version matters: since TensorFlow 2.16 `tf.keras` *is* Keras 3 (fact tf45). Legacy
    Keras (`tf_keras`, `TF_USE_LEGACY_KERAS=1`, TensorFlow 2.15 and earlier) does track raw
    `tf.Variable` attributes, so the rule is silent in files that import `tf_keras` or mention
    `TF_USE_LEGACY_KERAS`, and everywhere when the configuration says `keras = "legacy"`.
    `tf.Module` subclasses track raw variables too (fact tf40) and are never flagged.

    Not flagged: `trainable=False` variables, integer or boolean variables and variables the
    class updates with `.assign(...)` (state such as counters, not weights), variables created
    in `call()` (GS402 reports those), and classes that track variables by hand (they override
    `trainable_weights` or call `_track_variable`).

    ## Example
    ```python
    import tensorflow as tf

    class Scale(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)
            self.gamma = tf.Variable(tf.ones(3))  # never trained by fit()
    ```

    ## Use instead
    ```python
    class Scale(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)
            self.gamma = self.add_weight(shape=(3,), initializer="ones")
    ```

    ## References
    - Keras API: `keras.Variable`, `Layer.add_weight`
    - tensorflow/docs pull request 2401: the "Introduction to modules" guide's Keras layer built
      its weights with `tf.Variable` and had empty `trainable_variables` under Keras 3
    - gradscan facts: tf25, tf40, tf45
    """
    invalid = (
        """
        import tensorflow as tf

        class Scale(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = tf.keras.layers.Dense(1)
                self.gamma = tf.Variable(tf.ones(3))  # error: GS401

            def call(self, x):
                return self.dense(x * self.gamma)
        """,
        """
        import keras
        import tensorflow as tf

        class Bias(keras.layers.Layer):
            def build(self, input_shape):
                self.b = tf.Variable(tf.zeros(input_shape[-1]))  # error: GS401

            def call(self, x):
                return x + self.b
        """,
    )
    valid = (
        """
        import tensorflow as tf
        import keras

        class Scale(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.gamma = self.add_weight(shape=(3,), initializer="ones")
                self.beta = keras.Variable(tf.zeros(3))
                self.step = tf.Variable(0, trainable=False)

        class Plain(tf.Module):
            def __init__(self):
                self.w = tf.Variable(tf.ones(3))

        w = tf.Variable(tf.ones(3))
        """,
        """
        import tensorflow as tf
        import tf_keras

        class Scale(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.gamma = tf.Variable(tf.ones(3))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for cls in model.class_list:
            if cls.kind != kinds.KERAS:
                continue
            hand = None
            for attr, value, _node, method in cls.self_assigns:
                if not (isinstance(value, cst.Call) and _callee(model, value) in TF_VARIABLE):
                    continue
                if method == "call" or _in_call_context(cls.methods.get(method)):
                    continue  # GS402
                if _variable_not_trainable(model, value) or _assigned_state(model, cls, attr):
                    continue
                if hand is None:
                    hand = _class_tracks_by_hand(model, cls)
                if hand:
                    continue
                yield Report(value)


def _in_call_context(fn: Optional[FunctionInfo]) -> bool:
    root = _context_root(fn)
    return root is not None and root.name == "call"


# ============================================================================ GS402

_GUARD_WORDS = {"built", "build", "initialized", "initialised", "init", "created", "first", "ready", "exists", "none", "cache", "cached", "weights", "variables"}


def _is_guard_test(model: FileModel, test: cst.BaseExpression) -> bool:
    """`self.w is None`, `not self.built`, `hasattr(self, "w")`, `name not in self.vars`, ..."""
    for node in _walk(test):
        if isinstance(node, cst.Comparison):
            for target in node.comparisons:
                if isinstance(target.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)):
                    return True
                if _is_name(target.comparator, "None"):
                    return True
        elif isinstance(node, cst.Call) and dotted(node.func) in ("hasattr", "getattr", "len"):
            return True
        elif isinstance(node, (cst.Name, cst.Attribute)):
            text = dotted(node)
            if text and tokens(text.rsplit(".", 1)[-1]) & _GUARD_WORDS:
                return True
    return False


def _guarded(model: FileModel, node: cst.CSTNode) -> bool:
    """Creation that happens once: under a build-once test, in `tf.init_scope()`, or after an
    early `if <guard>: return`."""
    child = node
    for anc in model.ancestors(node):
        if isinstance(anc, (cst.If, cst.While)) and child is not anc.test and _is_guard_test(model, anc.test):
            return True
        if isinstance(anc, cst.IfExp) and child is not anc.test and _is_guard_test(model, anc.test):
            return True
        if isinstance(anc, cst.With) and any("init_scope" in (model.resolve(i.item.func) or dotted(i.item.func) or "") for i in anc.items if isinstance(i.item, cst.Call)):
            return True
        if isinstance(anc, cst.Try):
            return True  # `try: return self._w except AttributeError: self._w = ...`
        if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
            # an earlier `if <guard>: return ...` in the same function
            stmt = model.enclosing_statement(node)
            body = anc.body.body if isinstance(anc, cst.FunctionDef) and isinstance(anc.body, cst.IndentedBlock) else ()
            order = model.flow.order
            for s in body:
                if order(s) >= order(stmt) and stmt is not None:
                    break
                if isinstance(s, cst.If) and _is_guard_test(model, s.test) and any(isinstance(x, cst.SimpleStatementLine) and any(isinstance(y, cst.Return) for y in x.body) for x in s.body.body if isinstance(s.body, cst.IndentedBlock)):
                    return True
            return False
        child = anc
    return False


def _creates_variable(model: FileModel, call: cst.Call) -> Optional[str]:
    name = _callee(model, call)
    if name in TF_VARIABLE:
        return "tf.Variable"
    if name in KERAS_VARIABLE:
        return "keras.Variable"
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("add_weight", "add_variable") and _is_name(func.value, "self"):
        return f"self.{func.attr.value}"
    return None


class VariableCreatedInCall(Rule):
    code = "GS402"
    name = "variable-created-in-call"
    framework = "tensorflow"
    summary = "A variable created in `call()` is a new, untrained variable on every call (or a ValueError under `fit()`)"
    message = (
        "variable created inside call(): every call makes a new untracked variable (silent in eager mode); "
        "under fit()/tf.function it raises ValueError; create it once in build()"
    )
    hint = "create the weight in `build()` with `self.add_weight(...)`, or guard it with `if self.w is None:`"
    facts = ("tf37",)
    triggers = ("Variable", "add_weight", "add_variable")
    doc = """
    ## What it does
    Flags `tf.Variable(...)`, `keras.Variable(...)`, `self.add_weight(...)` and
    `self.add_variable(...)` inside the `call()` method of a Keras layer or model, or inside a
    method `call()` calls, when nothing makes the creation happen only once.

    ## Why it breaks gradients
    `call()` runs on every forward pass. In eager mode each call creates a fresh variable with
    its initial value: the weight the optimizer updated is thrown away and the layer never
    learns, silently. Under `fit()` (a `tf.function`) TensorFlow raises
    `ValueError: tf.function only supports singleton tf.Variables created on the first call`;
    Keras 3's `add_weight` in `call()` raises "You cannot add new elements of state ... to a
    layer that is already built" (fact tf37). Both Keras 3 and `tf_keras` are affected.

    Not flagged: creation in `build()` or `__init__`; creation under a build-once test
    (`if self.w is None:`, `if not self.built:`, `if not hasattr(self, "w"):`, `name not in
    self.vars`), after an early `if self.built: return`, inside `tf.init_scope()` or a `try`
    block; helper methods whose call from `call()` is itself guarded. The guarded lazy-creation
    idiom is not covered by the facts (tf37 notes it untested); it is the documented way to
    create a variable once in a `tf.function`, so the rule stays silent on it.

    ## Example
    ```python
    class Scale(keras.layers.Layer):
        def call(self, x):
            self.w = tf.Variable(tf.ones(x.shape[-1]))
            return x * self.w
    ```

    ## Use instead
    ```python
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w
    ```

    ## References
    - Keras guide "Making new layers and models via subclassing": weights belong in `build()`
    - TensorFlow guide "Better performance with tf.function": creating variables once
    - gradscan facts: tf37
    """
    invalid = (
        """
        import tensorflow as tf

        class Scale(tf.keras.layers.Layer):
            def call(self, x):
                self.w = tf.Variable(tf.ones(x.shape[-1]))  # error: GS402
                return x * self.w
        """,
        """
        from keras import layers

        class Gate(layers.Layer):
            def call(self, x):
                return x * self._gate(x)

            def _gate(self, x):
                g = self.add_weight(shape=(x.shape[-1],), initializer="ones")  # error: GS402
                return g
        """,
    )
    valid = (
        """
        import tensorflow as tf

        class Scale(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.w = None

            def build(self, input_shape):
                self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros")

            def call(self, x):
                if self.w is None:
                    self.w = tf.Variable(tf.ones(x.shape[-1]))
                return x * self.w + self.b
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, fn in model.calls:
            if fn is None or fn.cls is None or not fn.cls.is_keras:
                continue
            if _creates_variable(model, call) is None:
                continue
            method = _top_method(fn)
            if method.name in ("build", "__init__") or "build" in tokens(method.name):
                continue
            if method.name == "call":
                if not _guarded(model, call):
                    yield Report(call)
                continue
            root = _context_root(method)
            if root is None or root.name != "call" or root.cls is None or not root.cls.is_keras:
                continue
            if _guarded(model, call) or _all_calls_guarded(model, method):
                continue
            yield Report(call)


def _all_calls_guarded(model: FileModel, method: FunctionInfo) -> bool:
    sites = [
        call for call, owner in model.calls
        if owner is not None and isinstance(call.func, cst.Attribute) and call.func.attr.value == method.name
        and _is_name(call.func.value, "self")
    ]
    return bool(sites) and all(_guarded(model, c) for c in sites)


# ============================================================================ tapes


def _in_scope(model: FileModel, node: cst.CSTNode, scope: Optional[FunctionInfo], nested: bool = True) -> bool:
    fn = model.enclosing_function(node)
    if fn is scope:
        return True
    if not nested:
        return False
    while fn is not None:
        fn = fn.parent
        if fn is scope:
            return True
    return False


def _tape_uses(model: FileModel, name: str, scope: Optional[FunctionInfo]):
    """Every read of the tape name in its scope (and in functions nested in it)."""
    for node, fn in model.attributes:
        if _is_name(node.value, name) and _in_scope(model, node, scope):
            yield node
    for call, fn in model.calls:
        for arg in call.args:
            if _is_name(arg.value, name) and _in_scope(model, call, scope):
                yield arg


class TapeWatchesNothing(Rule):
    code = "GS408"
    name = "tape-watches-nothing"
    framework = "tensorflow"
    summary = "`GradientTape(watch_accessed_variables=False)` with no `tape.watch(...)`: every gradient is None"
    message = "GradientTape(watch_accessed_variables=False) and nothing is ever watched on this tape: every gradient it computes is None"
    hint = "call `tape.watch(var)` inside the block, or drop `watch_accessed_variables=False`"
    facts = ("tf38",)
    triggers = ("watch_accessed_variables",)
    doc = """
    ## What it does
    Flags `tf.GradientTape(watch_accessed_variables=False)` when the tape's name is never the
    receiver of a `.watch(...)` call in its function (or in functions nested in it) while its
    `gradient`/`jacobian` is asked for.

    ## Why it breaks gradients
    With `watch_accessed_variables=False` the tape records only what `tape.watch(...)` names.
    Without a `watch`, it records nothing and `tape.gradient(loss, v)` returns None for every
    source, silently (fact tf38); an optimizer then raises "No gradients provided for any
    variable".

    Not flagged: a tape that is passed to another function, stored, or returned (the watch may
    happen there), and a tape whose gradient is never computed.

    ## Example
    ```python
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        loss = tf.reduce_sum(v * v)
    grad = tape.gradient(loss, v)
    ```

    ## Use instead
    ```python
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(v)
        loss = tf.reduce_sum(v * v)
    grad = tape.gradient(loss, v)
    ```

    ## References
    - TensorFlow API: `tf.GradientTape`, `watch_accessed_variables`
    - gradscan facts: tf38
    """
    invalid = (
        """
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0])
        with tf.GradientTape(watch_accessed_variables=False) as tape:  # error: GS408
            loss = tf.reduce_sum(v * v)
        grad = tape.gradient(loss, v)
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def step(v, x):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(v)
                loss = tf.reduce_sum(v * x)
            return tape.gradient(loss, v)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, _fn in model.calls:
            if not _is_name(_kwarg(call, "watch_accessed_variables"), "False") or not is_gradient_tape(model, call):
                continue
            name = self._bound_name(model, call)
            if name is None:
                continue
            scope = model.enclosing_function(call)
            watched = False
            asked = False
            start, end = model.flow.order(call), self._next_binding(model, name, scope, call)
            for use in _tape_uses(model, name, scope):
                if not start < model.flow.order(use) < end:
                    continue  # another tape bound to the same name
                if isinstance(use, cst.Arg):
                    watched = True  # handed to another function: it may watch there
                    break
                attr = use.attr.value
                if attr == "watch":
                    watched = True
                    break
                if attr in ("gradient", "jacobian", "batch_jacobian"):
                    asked = True
            if watched or not asked or self._escapes(model, name, scope):
                continue
            yield Report(call)

    @staticmethod
    def _bound_name(model: FileModel, call: cst.Call) -> Optional[str]:
        parent = model.parent(call)
        if isinstance(parent, cst.WithItem) and parent.asname is not None and isinstance(parent.asname.name, cst.Name):
            return parent.asname.name.value
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            return parent.targets[0].target.value
        return None

    @staticmethod
    def _next_binding(model: FileModel, name: str, scope, call: cst.Call) -> float:
        order = model.flow.order
        start = order(call)
        later = [
            order(other) for other, fn in model.calls
            if fn is scope and other is not call and order(other) > start and is_gradient_tape(model, other)
            and TapeWatchesNothing._bound_name(model, other) == name
        ]
        return min(later) if later else float("inf")

    @staticmethod
    def _escapes(model: FileModel, name: str, scope) -> bool:
        """The tape is stored, returned, yielded or put in a container."""
        def bare(expr) -> bool:
            if _is_name(expr, name):
                return True
            if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
                return any(bare(e.value) for e in expr.elements)
            if isinstance(expr, cst.Dict):
                return any(bare(e.value) for e in expr.elements if isinstance(e, cst.DictElement))
            return False

        for node, fn in model.assignments:
            if fn is scope and node.value is not None and bare(node.value):
                return True
        for fn in model.functions if scope is None else [scope]:
            for ret in fn.returns:
                if ret.value is not None and bare(ret.value):
                    return True
        return False


class LossOutsideTape(Rule):
    code = "GS405"
    name = "loss-outside-tape"
    framework = "tensorflow"
    summary = "The loss passed to `tape.gradient` is computed after the tape block ended: every gradient is None"
    message = (
        "this value is computed after the GradientTape block ended, then passed to tape.gradient: "
        "the tape did not record it, so every gradient is None"
    )
    hint = "compute the loss inside the `with tf.GradientTape() as tape:` block"
    facts = ("tf32",)
    triggers = ("GradientTape",)
    doc = """
    ## What it does
    Flags the computation of the value that `tape.gradient(target, sources)` differentiates
    when it happens after the `with tf.GradientTape() as tape:` block has ended: the assignment
    `loss = ...` between the end of the block and the `gradient` call, or a computed target
    expression (`tape.gradient(loss + reg, ...)`) outside the block.

    ## Why it breaks gradients
    A tape records operations only while its `with` block is active. A loss computed after the
    block is not connected to anything the tape saw, so `tape.gradient` returns None for every
    source, silently; the next `optimizer.apply_gradients` raises "No gradients provided for
    any variable" (fact tf32). Both Keras 3 and `tf_keras` behave this way.

    Not flagged: labels and targets computed outside the tape (they are not the differentiated
    value); renaming or indexing a value computed inside (`loss = losses["total"]`); computations
    inside another tape block (nested tapes for higher-order gradients); a persistent tape whose
    gradient is asked for later, when the loss was computed inside the block.

    ## Example
    ```python
    with tf.GradientTape() as tape:
        pred = model(x)
    loss = tf.reduce_mean((pred - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        pred = model(x)
        loss = tf.reduce_mean((pred - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## References
    - TensorFlow guide "Introduction to gradients and automatic differentiation"
    - gradscan facts: tf32
    """
    invalid = (
        """
        import tensorflow as tf

        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
            loss = tf.reduce_mean((pred - y) ** 2)  # error: GS405
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def train_step(model, optimizer, x, y):
            y = tf.cast(y, tf.float32)
            with tf.GradientTape(persistent=True) as tape:
                pred = model(x, training=True)
                losses = {"total": tf.reduce_mean((pred - y) ** 2)}
            loss = losses["total"]
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        order = model.flow.order
        for call, fn in model.calls:
            func = call.func
            if not (isinstance(func, cst.Attribute) and func.attr.value in ("gradient", "jacobian", "batch_jacobian") and isinstance(func.value, cst.Name)):
                continue
            target = _arg(call, 0, "target")
            if target is None:
                continue
            tape = func.value.value
            block = self._last_block(model, tape, fn, call)
            if block is None or self._inside(model, call, block):
                continue
            if isinstance(target, cst.Name):
                assign = self._last_assignment(model, target.value, fn, call)
                if assign is None or order(assign) < order(block) or self._inside(model, assign, block):
                    continue
                if _enclosing_tape(model, assign) is not None or not _computes(model, assign.value):
                    continue
                if not self._same_block(model, assign, call):
                    continue
                yield Report(assign)
            elif _computes(model, target):
                yield Report(target)

    @staticmethod
    def _inside(model: FileModel, node: cst.CSTNode, block: cst.With) -> bool:
        return any(anc is block for anc in model.ancestors(node))

    @staticmethod
    def _last_block(model: FileModel, tape: str, fn, call: cst.Call) -> Optional[cst.With]:
        order = model.flow.order
        best = None
        for node in _tape_withs(model):
            if model.enclosing_function(node) is not fn or order(node) > order(call):
                continue
            if not any(_tape_name(i) == tape for i in node.items if is_gradient_tape(model, i.item) or isinstance(i.item, cst.Name)):
                continue
            if best is None or order(node) > order(best):
                best = node
        return best

    @staticmethod
    def _last_assignment(model: FileModel, name: str, fn, call: cst.Call):
        order = model.flow.order
        best = None
        for node, owner in model.assignments:
            if owner is not fn or order(node) > order(call):
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(name in _names_in_target(t) for t in targets):
                if best is None or order(node) > order(best):
                    best = node
        # a `for`/`with ... as name` rebinding after it defeats the analysis
        return best

    @staticmethod
    def _same_block(model: FileModel, assign: cst.CSTNode, call: cst.Call) -> bool:
        """The assignment's statement block also holds the gradient call (no branch skips it)."""
        stmt = model.enclosing_statement(assign)
        block = model.parent(model.parent(stmt)) if isinstance(stmt, cst.BaseSmallStatement) else model.parent(stmt)
        return block is not None and any(anc is block for anc in model.ancestors(call))


def _computes(model: FileModel, expr: cst.BaseExpression) -> bool:
    """The expression runs an operation (a call or arithmetic), not only a rename or lookup."""
    for node in _walk(expr):
        if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation)):
            return True
        if isinstance(node, cst.Call):
            text = dotted(node.func) or ""
            if text in ("float", "int", "len", "str", "dict", "list", "tuple"):
                continue
            return True
    return False


# ============================================================================ GS409

_FIT_METHODS = {"fit", "fit_generator", "train_on_batch"}


class TrainableChangedAfterCompile(Rule):
    code = "GS409"
    name = "trainable-changed-after-compile"
    framework = "tensorflow"
    summary = "`layer.trainable = ...` after `compile()` and `fit()`, then `fit()` again without recompiling: the change is ignored"
    message = (
        "trainable changed after this model was compiled and trained, and it is trained again without "
        "a new compile(): fit() ignores the change (the 'frozen' layer keeps training)"
    )
    hint = "call `model.compile(...)` again after changing `trainable`"
    facts = ("tf43",)
    triggers = ("trainable",)
    doc = """
    ## What it does
    Flags `x.trainable = ...` when, in the same function (or module), the model `x` belongs to
    was compiled and trained (`fit`, `fit_generator`, `train_on_batch`) before the change and is
    trained again after it, with no `compile()` of that model in between. `x` belongs to model
    `m` when it is `m` itself, an attribute or `m.layers[i]`/`m.get_layer(...)` of it, a loop
    variable over `m.layers`, or a layer named in the expression that built `m`
    (`keras.Model(inputs, d2(d1(inputs)))`, `Sequential([d1, d2])`, `m.add(d1)`).

    ## Why it breaks gradients
    `compile()` together with the first `fit()` fixes which weights the train function updates.
    Changing `trainable` afterwards has no effect on later `fit()` calls until the model is
    compiled again: the layer you froze keeps being updated, in Keras 3 and `tf_keras` alike
    (fact tf43). The rule needs a `fit()` before the change because under Keras 3 a change
    between `compile()` and the first `fit()` *is* honoured (the train function is built on the
    first `fit()`; `tf_keras` ignores it either way); it needs a `fit()` after the change
    because otherwise nothing trains with the stale setting in that scope.

    Not flagged: the GAN idiom (compile the discriminator, set `D.trainable = False`, compile
    the combined model), any later `compile()` of the model, and changes in callbacks or other
    functions than the ones that compile and fit.

    ## Example
    ```python
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = False
    model.fit(x, y)  # base still trains
    ```

    ## Use instead
    ```python
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = False
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## References
    - Keras guide "Transfer learning & fine-tuning": recompile after changing `trainable`
    - gradscan facts: tf43
    """
    invalid = (
        """
        import tensorflow as tf

        def fine_tune(base, x, y):
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=2)
            base.trainable = False  # error: GS409
            model.fit(x, y, epochs=2)
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def fine_tune(base, x, y):
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=2)
            base.trainable = False
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=2)

        def gan(generator, discriminator, z, x, y):
            discriminator.compile(optimizer="adam", loss="bce")
            discriminator.trainable = False
            combined = tf.keras.Sequential([generator, discriminator])
            combined.compile(optimizer="adam", loss="bce")
            discriminator.train_on_batch(x, y)
            combined.train_on_batch(z, y)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        order = model.flow.order
        by_scope: Dict[int, List] = {}
        for call, fn in model.calls:
            method = _method_name(call)
            if method in ("compile", *_FIT_METHODS):
                owner = dotted(call.func.value)
                if owner:
                    by_scope.setdefault(id(fn), []).append((order(call), "compile" if method == "compile" else "fit", owner, call))
        if not by_scope:
            return
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign):
                continue
            for t in node.targets:
                target = t.target
                if not (isinstance(target, cst.Attribute) and target.attr.value == "trainable"):
                    continue
                events = by_scope.get(id(fn))
                if not events:
                    continue
                when = order(node)
                for owner in {e[2] for e in events}:
                    if not self._belongs(model, target.value, owner, fn, when):
                        continue
                    compiles = [e[0] for e in events if e[2] == owner and e[1] == "compile"]
                    fits = [e[0] for e in events if e[2] == owner and e[1] == "fit"]
                    if not compiles or any(c > when for c in compiles):
                        continue
                    first = min(compiles)
                    if not any(first < f < when for f in fits):
                        continue
                    later = [f for f in fits if f > when]
                    if not later or self._reset_between(model, target, fn, when, min(later)):
                        continue
                    yield Report(node)
                    break

    @staticmethod
    def _reset_between(model: FileModel, target: cst.Attribute, fn, start: int, end: int) -> bool:
        text = dotted(target.value)
        order = model.flow.order
        for node, owner in model.assignments:
            if owner is fn and isinstance(node, cst.Assign) and start < order(node) < end:
                for t in node.targets:
                    if isinstance(t.target, cst.Attribute) and t.target.attr.value == "trainable" and dotted(t.target.value) == text:
                        return True
        return False

    def _belongs(self, model: FileModel, expr: cst.BaseExpression, owner: str, fn, when: int) -> bool:
        """Is `expr` (whose `trainable` is set) the model `owner` or one of its layers?"""
        base = expr
        while isinstance(base, (cst.Subscript, cst.Call, cst.Attribute)):
            text = dotted(base)
            if text == owner:
                return True
            base = base.value if isinstance(base, (cst.Subscript, cst.Attribute)) else base.func
        text = dotted(base)
        if text == owner:
            return True
        if not isinstance(expr, cst.Name):
            return False
        name = expr.value
        # a loop variable over `owner.layers`
        for anc in model.ancestors(expr):
            if isinstance(anc, cst.For) and _is_name(anc.target, name):
                it = anc.iter
                while isinstance(it, (cst.Subscript, cst.Call)):
                    it = it.value if isinstance(it, cst.Subscript) else it.func
                text = dotted(it) or ""
                if text.startswith(owner + "."):
                    return True
            if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
                break
        # a layer named in the expression that built the model, or added to it
        return name in self._built_from(model, owner, fn, when)

    @staticmethod
    def _built_from(model: FileModel, owner: str, fn, when: int, depth: int = 3) -> Set[str]:
        order = model.flow.order
        names: Set[str] = set()
        todo = [(owner, depth)]
        done: Set[str] = set()
        while todo:
            current, d = todo.pop()
            if current in done or d < 0:
                continue
            done.add(current)
            for node, owner_fn in model.assignments:
                if owner_fn is not fn or not isinstance(node, cst.Assign) or order(node) > when:
                    continue
                if not any(dotted(t.target) == current for t in node.targets):
                    continue
                for sub in _walk(node.value):
                    if isinstance(sub, cst.Name) and sub.value not in names:
                        names.add(sub.value)
                        todo.append((sub.value, d - 1))
            for call, owner_fn in model.calls:
                if owner_fn is fn and _method_name(call) == "add" and dotted(call.func.value) == current:
                    for arg in call.args:
                        for sub in _walk(arg.value):
                            if isinstance(sub, cst.Name):
                                names.add(sub.value)
        return names


# ============================================================================ loss-path barriers

# Functions some of whose arguments are indices, masks, shapes or conditions: a value passed
# there selects, it is not differentiated. name -> positions (and keywords) that carry data.
_DATA_ARGS = {
    "tensorflow.gather": ((0,), ("params",)),
    "tensorflow.gather_nd": ((0,), ("params",)),
    "tensorflow.compat.v1.gather": ((0,), ("params",)),
    "tensorflow.nn.embedding_lookup": ((0,), ("params",)),
    "tensorflow.boolean_mask": ((0,), ("tensor",)),
    "tensorflow.where": ((1, 2), ("x", "y")),
    "tensorflow.reshape": ((0,), ("tensor",)),
    "tensorflow.tile": ((0,), ("input",)),
    "tensorflow.slice": ((0,), ("input_",)),
    "tensorflow.roll": ((0,), ("input",)),
    "tensorflow.repeat": ((0,), ("input",)),
    "tensorflow.split": ((0,), ("value",)),
    "tensorflow.fill": ((1,), ("value",)),
    "tensorflow.one_hot": ((), ()),
    "tensorflow.sequence_mask": ((), ()),
    "tensorflow.range": ((), ()),
    "tensorflow.zeros": ((), ()),
    "tensorflow.ones": ((), ()),
    "tensorflow.scatter_nd": ((1,), ("updates",)),
    "tensorflow.tensor_scatter_nd_update": ((0, 2), ("tensor", "updates")),
    "tensorflow.tensor_scatter_nd_add": ((0, 2), ("tensor", "updates")),
    "tensorflow.math.unsorted_segment_sum": ((0,), ("data",)),
    "tensorflow.math.unsorted_segment_mean": ((0,), ("data",)),
    "tensorflow.math.unsorted_segment_max": ((0,), ("data",)),
    "tensorflow.math.segment_sum": ((0,), ("data",)),
    "tensorflow.math.segment_mean": ((0,), ("data",)),
    "tensorflow.gather_v2": ((0,), ("params",)),
    "tensorflow.random.categorical": ((), ()),
    "tensorflow.random.uniform": ((), ()),
    "tensorflow.random.normal": ((), ()),
    "tensorflow.math.bincount": ((), ()),
    "tensorflow.histogram_fixed_width": ((), ()),
    "tensorflow.math.top_k": ((), ()),
    "tensorflow.nn.top_k": ((), ()),
    "tensorflow.cond": ((1, 2), ("true_fn", "false_fn")),
}
# Keyword arguments of loss functions that hold the target, never the prediction.
_TARGET_KEYWORDS = {"labels", "y_true", "y", "target", "targets", "label", "sample_weight", "weights", "mask"}


def _is_loss_callee(model: FileModel, call: cst.Call) -> bool:
    name = _callee(model, call) or ""
    if ".losses." in f".{name}." or "cross_entropy" in name or "crossentropy" in name.lower():
        return True
    text = dotted(call.func) or ""
    last = text.rsplit(".", 1)[-1]
    return bool(tokens(last) & {"loss", "losses", "crossentropy", "criterion", "xent", "mse", "mae"})


def _selecting_argument(model: FileModel, node: cst.CSTNode) -> bool:
    """`node` is passed where a function selects, masks or takes a target: an index of `gather`,
    the condition of `tf.where`, a shape, the labels of a loss."""
    arg = model.parent(node)
    if isinstance(arg, cst.Arg):
        call = model.parent(arg)
        if not isinstance(call, cst.Call) or arg.value is not node:
            return False
        name = _callee(model, call)
        spec = _DATA_ARGS.get(name or "")
        positional = [a for a in call.args if a.keyword is None and not a.star]
        pos = positional.index(arg) if arg in positional else None
        keyword = arg.keyword.value if arg.keyword is not None else None
        if spec is not None:
            positions, keywords = spec
            return not ((pos is not None and pos in positions) or (keyword is not None and keyword in keywords))
        if _is_loss_callee(model, call):
            if keyword is not None:
                return keyword in _TARGET_KEYWORDS
            last = (dotted(call.func) or "").rsplit(".", 1)[-1]
            if last == "compute_loss":
                return pos in (0, 1)
            return pos == 0 and len(positional) >= 2  # Keras losses take (y_true, y_pred)
        return False
    if isinstance(arg, cst.SubscriptElement) or isinstance(arg, (cst.Index, cst.Slice)):
        return True
    return False


def _path_barrier(model: FileModel):
    return lambda n: _selecting_argument(model, n)


def _combined_with_carrier(model: FileModel, taint: _Taint, node: cst.CSTNode, fn, ops=None) -> bool:
    """`node` meets another gradient-carrying operand right where its value is used: a product
    with a mask or weight, `pred - stop_gradient(target)`, a straight-through sum."""
    child = node
    for anc in model.ancestors(node):
        if isinstance(anc, cst.BinaryOperation):
            if ops is not None and not isinstance(anc.operator, ops):
                return False
            other = anc.right if child is anc.left else anc.left
            return taint.carries(other, fn)
        if isinstance(anc, (cst.Arg, cst.Element)):
            child = anc
            continue
        if isinstance(anc, (cst.List, cst.Tuple)):
            others = [e.value for e in anc.elements if e is not child]
            return any(taint.carries(o, fn) for o in others)
        if isinstance(anc, cst.Call):
            if ops is not None:
                name = _callee(model, anc) or ""
                if name.rsplit(".", 1)[-1] not in ("multiply", "add", "subtract", "add_n", "matmul", "einsum", "concat", "stack"):
                    return False
            others = [a.value for a in anc.args if a is not child]
            return any(taint.carries(o, fn) for o in others)
        if isinstance(anc, (cst.ParenthesizedWhitespace,)):
            continue
        return False
    return False


# ============================================================================ GS403

NUMPY_FUNCTION = {"tensorflow.numpy_function", "tensorflow.compat.v1.numpy_function", "tensorflow.compat.v1.py_func", "tensorflow.py_func"}
PY_FUNCTION = {"tensorflow.py_function", "tensorflow.compat.v1.py_function"}


def _function_named(model: FileModel, scope: Optional[FunctionInfo], expr) -> Optional[cst.CSTNode]:
    """The def or lambda an argument names: a lambda, `f`, or `self.f`."""
    if isinstance(expr, cst.Lambda):
        return expr
    if isinstance(expr, cst.Name):
        s = scope
        while s is not None:
            for fn in model.functions:
                if fn.parent is s and fn.name == expr.value:
                    return fn.node
            s = s.parent
        fn = model.module_functions.get(expr.value)
        return fn.node if fn is not None else None
    if isinstance(expr, cst.Attribute) and _is_name(expr.value, "self") and scope is not None and scope.cls is not None:
        fn = model.find_method(scope.cls, expr.attr.value)
        return fn.node if fn is not None else None
    return None


def _uses_numpy(model: FileModel, body: cst.CSTNode) -> bool:
    for node in _walk(body):
        if isinstance(node, cst.Call):
            name = _callee(model, node) or ""
            if name.startswith("numpy.") or (isinstance(node.func, cst.Attribute) and node.func.attr.value == "numpy" and not node.args):
                return True
    return False


def _float_output(model: FileModel, tout) -> bool:
    """Tout is not only integers, booleans or strings (which carry no gradient anyway)."""
    if tout is None:
        return True
    if isinstance(tout, (cst.List, cst.Tuple)):
        return any(_float_output(model, e.value) for e in tout.elements)
    return _tf_dtype_kind(model, tout) not in ("int", "bool", "string")


class NumpyFunctionInTrainingPath(Rule):
    code = "GS403"
    name = "numpy-function-in-training-path"
    framework = "tensorflow"
    summary = "`tf.numpy_function` (or a NumPy-bodied `tf.py_function`) on the loss path: no gradient flows through it"
    message = "tf.numpy_function output reaches the loss/output: TensorFlow has no gradient for it, so everything before it gets gradient None"
    hint = "write the computation with TensorFlow ops (or `tf.py_function` with a TensorFlow body)"
    facts = ("tf28", "tf29")
    triggers = ("numpy_function", "py_func", "py_function")
    doc = """
    ## What it does
    Flags `tf.numpy_function(...)` (and `tf.compat.v1.py_func`, and calls of a function
    decorated with `@tf.numpy_function(Tout=...)`) whose input carries gradient
    (a layer or model output, a trainable variable) and whose output reaches the loss or what
    `call()` returns, inside a Keras `call()`/`compute_loss()`, a `tf.GradientTape` block, or a
    function called there. Also `tf.py_function` whose body uses `.numpy()` or NumPy.

    ## Why it breaks gradients
    `tf.numpy_function` has no registered gradient: everything upstream gets gradient None,
    silently, in eager mode and under `tf.function` (fact tf28). `tf.py_function` is
    differentiable when its body uses TensorFlow ops, but a body that converts its inputs with
    `.numpy()` or computes with NumPy gives gradients of zeros (fact tf29), also silently.

    Not flagged: `tf.py_function` with a TensorFlow body; `numpy_function` in `tf.data`
    pipelines (`dataset.map`), preprocessing, postprocessing and metrics; calls whose inputs
    are data or labels rather than differentiable values; calls returning integers, booleans or
    strings (no gradient is expected); outputs used only as indices, masks or targets.

    ## Example
    ```python
    def call(self, x):
        h = self.decoder(x)
        colors = tf.numpy_function(lookup_colors, [h], tf.float32)
        return colors
    ```

    ## Use instead
    ```python
    def call(self, x):
        h = self.decoder(x)
        return tf.gather(self.palette, tf.argmax(h, axis=-1))  # or an equivalent TF computation
    ```

    ## References
    - TensorFlow API: `tf.numpy_function` ("Comparison to tf.py_function": only `py_function`
      runs TensorFlow operations differentiably), `tf.py_function`
    - gradscan facts: tf28, tf29
    """
    invalid = (
        """
        import numpy as np
        import tensorflow as tf

        class Decoder(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = tf.keras.layers.Dense(3)

            def call(self, x):
                h = self.dense(x)
                return tf.numpy_function(np.tanh, [h], tf.float32)  # error: GS403
        """,
    )
    valid = (
        """
        import numpy as np
        import tensorflow as tf

        def augment(image):
            return tf.numpy_function(np.fliplr, [image], tf.float32)

        dataset = tf.data.Dataset.range(3).map(lambda x: tf.numpy_function(np.square, [x], tf.int64))

        class Decoder(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = tf.keras.layers.Dense(3)

            def call(self, x):
                h = self.dense(x)
                return tf.py_function(lambda a: tf.tanh(a), [h], tf.float32)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        taint = _taint(model)
        decorated = self._decorated(model)
        for call, fn in model.calls:
            name = _callee(model, call)
            if isinstance(call.func, cst.Name) and call.func.value in decorated and name is None:
                # `@tf.numpy_function(Tout=tf.float32) def f(x): ...` then `f(h)`
                tout = decorated[call.func.value]
                if not _float_output(model, tout):
                    continue
                inputs = cst.Tuple([cst.Element(a.value) for a in call.args]) if call.args else None
                if inputs is None or not taint.carries(inputs, fn):
                    continue
                if _in_data_pipeline(model, call) or _tf_site(model, call) is None:
                    continue
                if _reaches_loss(model, call, _path_barrier(model)) is not None:
                    yield Report(call)
                continue
            if name in NUMPY_FUNCTION:
                message = None
            elif name in PY_FUNCTION:
                body = _function_named(model, fn, _arg(call, 0, "func"))
                if body is None or not _uses_numpy(model, body):
                    continue
                message = (
                    "tf.py_function whose body uses .numpy()/NumPy reaches the loss/output: the gradient "
                    "through it is zeros, silently"
                )
            else:
                continue
            if not _float_output(model, _arg(call, 2, "Tout")):
                continue
            inputs = _arg(call, 1, "inp")
            if inputs is None or not taint.carries(inputs, fn):
                continue
            if _in_data_pipeline(model, call) or _tf_site(model, call) is None:
                continue
            if _reaches_loss(model, call, _path_barrier(model)) is None:
                continue
            yield Report(call, message)

    @staticmethod
    def _decorated(model: FileModel) -> Dict[str, Optional[cst.BaseExpression]]:
        """Module functions decorated with `@tf.numpy_function(Tout=...)` (TensorFlow 2.14+)."""
        out: Dict[str, Optional[cst.BaseExpression]] = {}
        for name, fn in model.module_functions.items():
            if not isinstance(fn.node, cst.FunctionDef):
                continue
            for d in fn.node.decorators:
                dec = d.decorator
                if isinstance(dec, cst.Call) and model.resolve(dec.func) in NUMPY_FUNCTION:
                    out[name] = _kwarg(dec, "Tout")
        return out


# ============================================================================ GS404

K_EVAL = {
    "tensorflow.keras.backend.eval", "keras.backend.eval", "tf_keras.backend.eval",
    "tensorflow.keras.backend.get_value", "keras.backend.get_value", "tf_keras.backend.get_value",
    "keras.ops.convert_to_numpy", "keras.src.ops.convert_to_numpy",
}
NUMPY_METADATA = {"numpy.shape", "numpy.ndim", "numpy.size", "numpy.isscalar", "numpy.dtype", "numpy.result_type", "numpy.iinfo", "numpy.finfo"}
_TARGET_WORDS = {"target", "targets", "teacher", "ema", "momentum", "frozen", "pretrained", "reference", "ref", "old", "baseline", "prior", "fixed", "const"}


class NumpyInTape(Rule):
    code = "GS404"
    name = "numpy-in-tape"
    framework = "tensorflow"
    summary = "`.numpy()`, `float()`, NumPy or `model.predict` on the loss path inside a tape or `call()`: gradient None"
    message = "a tensor is converted to NumPy/Python here and the result reaches the loss/output: the tape loses track of it (gradient None in eager mode, an error in graph mode)"
    hint = "keep the computation in TensorFlow ops (`tf.*`, `tf.experimental.numpy`); convert to NumPy only after `tape.gradient`"
    facts = ("tf30", "tf31")
    triggers = _SITE_TRIGGERS
    doc = """
    ## What it does
    Flags, inside a `tf.GradientTape` block, a Keras `call()`/`compute_loss()`, or a function
    called there: `.numpy()`, `float(...)`/`int(...)`, NumPy functions (`np.square(t)`),
    `model.predict(...)`, `K.eval(...)`/`keras.backend.get_value(...)` applied to a value that
    carries gradient (a layer or model output, a trainable variable), when the result reaches
    the loss or what `call()` returns.

    ## Why it breaks gradients
    The conversion leaves TensorFlow: the tape cannot see through a NumPy array or a Python
    float. In eager mode the gradient of everything upstream is None, silently; in graph mode
    (`tf.function`, Keras 3 `fit()`) it is an error such as "'SymbolicTensor' object has no
    attribute 'numpy'" or "Cannot convert a symbolic tf.Tensor to a numpy array"; with
    `run_eagerly=True`, "No gradients provided for any variable" (facts tf30, tf31).

    Not flagged: `tf.experimental.numpy` (differentiable, fact tf31); NumPy on constants,
    shapes, labels or configuration; `.numpy()` for logging or after `tape.gradient`; values
    used only as indices, masks or loss targets; `predict` of a target or teacher model.

    ## Example
    ```python
    with tf.GradientTape() as tape:
        h = model(x).numpy()
        loss = tf.reduce_sum(h ** 2)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        h = model(x)
        loss = tf.reduce_sum(h ** 2)
    ```

    ## References
    - TensorFlow guide "Introduction to gradients": cases where the gradient is None
    - gradscan facts: tf30, tf31
    """
    invalid = (
        """
        import numpy as np
        import tensorflow as tf

        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                err = np.square(pred - y)  # error: GS404
                loss = tf.reduce_mean(err)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )
    valid = (
        """
        import numpy as np
        import tensorflow as tf

        def train_step(model, optimizer, x, y):
            y = np.asarray(y, dtype="float32")
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                scale = float(np.prod(x.shape))
                loss = tf.reduce_sum(tf.experimental.numpy.square(pred - y)) / scale
            grads = tape.gradient(loss, model.trainable_variables)
            print("loss", loss.numpy())
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        taint = _taint(model)
        for call, fn in model.calls:
            value = self._converted(model, call)
            if value is None:
                continue
            if value is not call and not taint.carries(value, fn):
                continue
            if _tf_site(model, call) is None or _in_data_pipeline(model, call):
                continue
            if _reaches_loss(model, call, _path_barrier(model)) is None:
                continue
            yield Report(call)

    @staticmethod
    def _converted(model: FileModel, call: cst.Call) -> Optional[cst.CSTNode]:
        """The tensor a call converts to NumPy/Python (the call itself for `model.predict`)."""
        func = call.func
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
            if attr == "numpy" and not call.args:
                return func.value
            if attr == "predict" and call.args and _callee(model, call) is None:
                text = dotted(func.value) or ""
                last = text.rsplit(".", 1)[-1]
                if (text == "self" or tokens(last) & MODEL_TOKENS) and not tokens(text) & _TARGET_WORDS:
                    return call
                return None
        name = _callee(model, call)
        if name is None and isinstance(func, cst.Name) and func.value in ("float", "int") and len(call.args) == 1:
            return call.args[0].value
        if name in K_EVAL and call.args:
            return call.args[0].value
        if name and name.startswith("numpy.") and name not in NUMPY_METADATA and call.args:
            # np.* applied to a tensor: a taint in any argument
            return cst.Tuple([cst.Element(a.value) for a in call.args])
        return None


# ============================================================================ GS406

STOP_GRADIENT = {"tensorflow.stop_gradient", "keras.ops.stop_gradient", "keras.src.ops.stop_gradient", "tensorflow.keras.backend.stop_gradient"}
# Words that say a stop is meant: targets, teachers, momentum encoders, GAN steps, quantizers.
_INTENT_WORDS = {
    "target", "targets", "teacher", "ema", "momentum", "frozen", "freeze", "pretrained", "fixed", "const",
    "constant", "detached", "detach", "stop", "stopped", "sg", "prior", "old", "baseline", "byol", "simsiam",
    "siamese", "discriminator", "disc", "critic", "gan", "quantize", "quantized", "quantizer", "quant", "vq",
    "codebook", "commitment", "straight", "ste", "hard", "reference", "ref", "label", "labels", "teacher",
    "bootstrap", "moco", "dino", "swav", "barlow", "clip", "advantage", "advantages", "returns", "reward",
}


def _intent_words_near(model: FileModel, node: cst.CSTNode, fn: Optional[FunctionInfo]) -> bool:
    """The enclosing function, its class or the assigned name say the stop is intentional."""
    names = []
    f = fn
    while f is not None:
        names.append(f.name)
        if f.cls is not None and f.parent is None:
            names.append(f.cls.name)
        f = f.parent
    stmt = model.enclosing_statement(node)
    if isinstance(stmt, cst.Assign):
        names.extend(dotted(t.target) or "" for t in stmt.targets)
    elif isinstance(stmt, (cst.AnnAssign, cst.AugAssign)):
        names.append(dotted(stmt.target) or "")
    arg = _arg(node, 0, "input") if isinstance(node, cst.Call) else None
    if arg is not None:
        names.append(dotted(arg) or (dotted(arg.func) if isinstance(arg, cst.Call) else "") or "")
    return any(tokens(n) & _INTENT_WORDS for n in names if n)


def _shared_intent(model: FileModel, call: cst.Call, receiver: cst.BaseExpression, trace) -> bool:
    """The look-alikes shared with the PyTorch detach rule (GS201), decided by
    `gradscan.semantics.intent`: straight-through estimators, targets and teachers, BYOL/SimSiam
    one-sided losses, GAN discriminator steps, evaluation branches, recurrent state."""
    from gradscan.semantics import intent

    return intent.intentional_cut(model, call, receiver, trace) is not None


class StopGradientOnOutput(Rule):
    code = "GS406"
    name = "stop-gradient-on-output"
    framework = "tensorflow"
    summary = "`tf.stop_gradient` on a layer's output inside `call()` cuts every weight before it off the loss"
    message = "tf.stop_gradient on a layer output that reaches call()'s return value: every weight before it gets gradient None and is never trained"
    tape_message = "tf.stop_gradient on a model output that is the only way to the loss passed to tape.gradient: every weight before it gets gradient None"
    hint = "remove `tf.stop_gradient`; to freeze a sub-layer set `layer.trainable = False` instead"
    facts = ("tf33",)
    triggers = ("stop_gradient",)
    doc = """
    ## What it does
    Flags `tf.stop_gradient(...)` (and `keras.ops.stop_gradient`) in a Keras `call()` (or a
    method `call()` calls) when its argument is the output of one of the layer's own sub-layers
    or weights and the stopped value is the only differentiable value on its way to what
    `call()` returns; and in a `tf.GradientTape` block when it stops a model output that is
    then the only differentiable value on its way to the loss given to `tape.gradient`.

    ## Why it breaks gradients
    `tf.stop_gradient` makes its result a constant for the tape: the weights that computed its
    argument get gradient None (not zeros, fact tf33) and are never trained, silently. Keras 3
    then warns only that "Gradients do not exist for variables".

    The rule stays silent on the intentional uses it shares with the PyTorch detach rule
    (GS201): straight-through estimators (`x + tf.stop_gradient(q - x)`), targets and
    teachers (`mse(pred, tf.stop_gradient(target))`), BYOL/SimSiam and momentum encoders,
    GAN steps, VQ-VAE commitment terms, advantage weights; that is, whenever the stopped value
    is combined with another differentiable value, is passed as a loss target, or the names
    around it (function, class, variable) say target/teacher/ema/frozen/stop/quantize/gan.
    In tape bodies a stop is flagged only when nothing differentiable is combined with the
    stopped value anywhere on its way to the loss (a loss whose only prediction was stopped);
    policy-gradient weights, TD targets, SimSiam branches and discriminator steps all combine
    it with a live value and stay silent.

    ## Example
    ```python
    def call(self, x):
        h = tf.stop_gradient(self.d1(x))
        return self.d2(tf.nn.relu(h))  # d1 never trains
    ```

    ## Use instead
    ```python
    def call(self, x):
        h = self.d1(x)
        return self.d2(tf.nn.relu(h))
    ```
    (or freeze `d1` on purpose with `self.d1.trainable = False`)

    ## References
    - TensorFlow API: `tf.stop_gradient`
    - gradscan facts: tf33
    """
    invalid = (
        """
        import tensorflow as tf

        class Net(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.d1 = tf.keras.layers.Dense(4)
                self.d2 = tf.keras.layers.Dense(1)

            def call(self, x):
                h = tf.stop_gradient(self.d1(x))  # error: GS406
                return self.d2(tf.nn.relu(h))
        """,
    )
    valid = (
        """
        import tensorflow as tf

        class Quantizer(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.proj = tf.keras.layers.Dense(4)

            def call(self, x):
                h = self.proj(x)
                q = tf.round(h)
                return h + tf.stop_gradient(q - h)

        class Student(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.student = tf.keras.layers.Dense(4)
                self.teacher = tf.keras.layers.Dense(4)

            def call(self, x):
                t = tf.stop_gradient(self.teacher(x))
                return self.student(x) - t
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        taint = _taint(model)
        for call, fn in model.calls:
            if _callee(model, call) not in STOP_GRADIENT or not call.args:
                continue
            site = _tf_site(model, call)
            if site == "tape":
                sink = "loss"
            elif site == "call" and getattr(_context_root(fn), "name", None) == "call":
                sink = "return"
            else:
                continue
            arg = _arg(call, 0, "input")
            if arg is None or not taint.carries(arg, fn):
                continue
            if _combined_with_carrier(model, taint, call, fn):
                continue
            if _intent_words_near(model, call, fn):
                continue
            trace = _reaches_loss(model, call, _path_barrier(model))
            if trace is None or trace.sink != sink:
                continue
            if self._meets_carrier(model, taint, trace, fn) or _shared_intent(model, call, arg, trace):
                continue
            yield Report(call, None if sink == "return" else self.tape_message)

    @staticmethod
    def _meets_carrier(model: FileModel, taint: _Taint, trace, fn) -> bool:
        """Along the way to the output the stopped value is combined with a differentiable one:
        the other side of an operator, another argument, another element of a container."""
        path = trace.path
        for child, parent in zip(path, path[1:]):
            fn = model.enclosing_function(parent)
            if isinstance(parent, cst.BinaryOperation) and child in (parent.left, parent.right):
                other = parent.right if child is parent.left else parent.left
                if taint.carries(other, fn):
                    return True
            elif isinstance(parent, cst.Call) and _method_name(parent) not in ("gradient", "jacobian", "batch_jacobian") and any(a.value is child for a in parent.args):
                if any(taint.carries(a.value, fn) for a in parent.args if a.value is not child):
                    return True
            elif isinstance(parent, (cst.Tuple, cst.List)) and any(e.value is child for e in parent.elements):
                if any(taint.carries(e.value, fn) for e in parent.elements if e.value is not child):
                    return True
        return False


# ============================================================================ GS407


def _auxiliary_output(model: FileModel, taint: _Taint, trace) -> bool:
    """The value is returned beside a differentiable output (`return logits, labels`)."""
    for node in trace.path:
        if isinstance(node, (cst.Tuple, cst.List)):
            fn = model.enclosing_function(node)
            elements = [e.value for e in node.elements]
            if any(taint.carries(e, fn) for e in elements if not any(n is e for n in trace.path)):
                return True
        if isinstance(node, cst.Dict):
            return True
    return False


_NONDIFF_OPS = {
    "tensorflow.argmax": "tf.argmax", "tensorflow.math.argmax": "tf.argmax",
    "tensorflow.argmin": "tf.argmin", "tensorflow.math.argmin": "tf.argmin",
    "tensorflow.round": "tf.round", "tensorflow.math.round": "tf.round",
    "tensorflow.floor": "tf.floor", "tensorflow.math.floor": "tf.floor",
    "tensorflow.math.ceil": "tf.math.ceil", "tensorflow.sign": "tf.sign", "tensorflow.math.sign": "tf.sign",
    "keras.ops.argmax": "keras.ops.argmax", "keras.ops.round": "keras.ops.round", "keras.ops.floor": "keras.ops.floor",
    "keras.ops.sign": "keras.ops.sign",
}
_CASTS = {"tensorflow.cast", "tensorflow.dtypes.cast", "keras.ops.cast", "tensorflow.keras.backend.cast", "keras.backend.cast"}
_BOOL_FUNCS = {
    "tensorflow.greater", "tensorflow.less", "tensorflow.greater_equal", "tensorflow.less_equal", "tensorflow.equal",
    "tensorflow.not_equal", "tensorflow.math.greater", "tensorflow.math.less", "tensorflow.math.greater_equal",
    "tensorflow.math.less_equal", "tensorflow.math.equal", "tensorflow.math.not_equal",
}


class NonDifferentiableOpInLossTf(Rule):
    code = "GS407"
    name = "non-differentiable-op-in-loss-tf"
    framework = "tensorflow"
    summary = "`tf.argmax`/`round`/`floor`/`sign` or an integer/boolean `tf.cast` on the loss path: gradient None or zero"
    message = "{op} on a differentiable value that reaches the loss/output: it has no gradient (None, or zeros for sign), so nothing before it trains"
    hint = "use a differentiable surrogate (softmax, sigmoid) or the straight-through idiom `v + tf.stop_gradient(tf.round(v) - v)`"
    facts = ("tf36",)
    triggers = _SITE_TRIGGERS
    doc = """
    ## What it does
    Flags `tf.argmax`/`tf.argmin`, `tf.round`, `tf.floor`, `tf.math.ceil`, `tf.sign`,
    `tf.cast(x, <integer dtype>)` and `tf.cast(<comparison>, ...)` (and their `keras.ops`
    forms) applied to a value that carries gradient (a layer or model output, a trainable
    variable) inside a tape block, a Keras `call()`/`compute_loss()` or a function called
    there, when the result reaches the loss or what `call()` returns as a value.

    ## Why it breaks gradients
    These operations are piecewise constant: TensorFlow returns gradient None for `argmax`,
    `round`, `floor`, integer casts and casts of booleans, and zeros for `sign` (fact tf36).
    A loss computed through them trains nothing before them, silently.

    Not flagged: the same operations on labels, masks, shapes or inputs (they carry no
    gradient); results used as indices (`tf.gather`, `tf.one_hot`, subscripts), as the
    condition of `tf.where`, as loss targets, or multiplied into a differentiable value (a
    mask); metrics and predictions (they do not reach the loss); the straight-through idiom
    `v + tf.stop_gradient(tf.round(v) - v)`; casts to floating dtypes.

    ## Example
    ```python
    with tf.GradientTape() as tape:
        q = tf.round(model(x))
        loss = tf.reduce_mean((q - y) ** 2)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        h = model(x)
        q = h + tf.stop_gradient(tf.round(h) - h)  # straight-through
        loss = tf.reduce_mean((q - y) ** 2)
    ```

    ## References
    - TensorFlow API: `tf.round`, `tf.argmax`, `tf.cast` (no gradient for integer types)
    - gradscan facts: tf36
    """
    invalid = (
        """
        import tensorflow as tf

        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                q = tf.round(model(x))  # error: GS407
                loss = tf.reduce_mean((q - y) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def train_step(model, optimizer, x, y, mask):
            y = tf.cast(y, tf.int32)
            with tf.GradientTape() as tape:
                logits = model(x)
                h = logits + tf.stop_gradient(tf.round(logits) - logits)
                weights = tf.cast(mask > 0, tf.float32)
                ce = tf.keras.losses.sparse_categorical_crossentropy(y, h, from_logits=True)
                loss = tf.reduce_sum(ce * weights)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1), tf.cast(y, tf.int64)), tf.float32))
            return accuracy
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        taint = _taint(model)
        for call, fn in model.calls:
            op = self._op(model, call, taint, fn)
            if op is None:
                continue
            if _tf_site(model, call) is None or _in_data_pipeline(model, call):
                continue
            if self._inside_stop_gradient(model, call):
                continue
            barrier = _path_barrier(model)
            if barrier(call) or _combined_with_carrier(model, taint, call, fn, (cst.Multiply, cst.Divide)):
                continue
            trace = _reaches_loss(model, call, barrier)
            if trace is None:
                continue
            if trace.sink == "return":
                root = getattr(trace, "root", None)
                if op in ("tf.argmax", "tf.argmin", "keras.ops.argmax") and (root is None or root.name != "compute_loss"):
                    continue  # predictions returned by call(): class indices are an output, not a loss
                if _auxiliary_output(model, taint, trace):
                    continue
            yield Report(call, self.message.format(op=op))

    @staticmethod
    def _op(model: FileModel, call: cst.Call, taint: _Taint, fn) -> Optional[str]:
        name = _callee(model, call)
        if name in _NONDIFF_OPS:
            arg = _arg(call, 0, "input") or _arg(call, 0, "x")
            return _NONDIFF_OPS[name] if arg is not None and taint.carries(arg, fn) else None
        if name in _CASTS:
            value = _arg(call, 0, "x")
            kind = _tf_dtype_kind(model, _arg(call, 1, "dtype"))
            if value is None:
                return None
            if isinstance(value, cst.Comparison):
                operands = [value.left, *(c.comparator for c in value.comparisons)]
                if any(taint.carries(o, fn) for o in operands):
                    return "tf.cast of a comparison"
                return None
            if isinstance(value, cst.Call) and _callee(model, value) in _BOOL_FUNCS:
                if any(taint.carries(a.value, fn) for a in value.args):
                    return "tf.cast of a comparison"
                return None
            if kind in ("int", "bool") and taint.carries(value, fn):
                return f"tf.cast to an {'integer' if kind == 'int' else 'boolean'} dtype"
        return None

    @staticmethod
    def _inside_stop_gradient(model: FileModel, node: cst.CSTNode) -> bool:
        for anc in model.ancestors(node):
            if isinstance(anc, cst.Call) and _callee(model, anc) in STOP_GRADIENT:
                return True
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                return False
        return False
