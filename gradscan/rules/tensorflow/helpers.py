"""What several GS4xx rules share."""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.common import model_cache
from gradscan.semantics.arguments import argument_for, argument_position, keyword_argument, positional_arguments
from gradscan.semantics import classes as kinds
from gradscan.semantics.contexts import is_gradient_tape
from gradscan.semantics.flow import tokens
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants, target_names

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
SITE_TRIGGERS = ("GradientTape", "def call", "compute_loss", "__call__")


def callee(model: FileModel, call: cst.Call) -> Optional[str]:
    """`model.callee(call)`, memoized: every rule of the family asks it for every call."""
    cache = model_cache(model).setdefault("callee", {})
    key = id(call)
    if key not in cache:
        cache[key] = model.callee(call)
    return cache[key]


def is_name(expr, value: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == value


def method_name(call: cst.Call) -> Optional[str]:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def top_method(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    return fn


def context_root(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
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


def enclosing_tape(model: FileModel, node: cst.CSTNode) -> Optional[cst.With]:
    """The innermost `with tf.GradientTape() ...:` block around `node` in its own function."""
    for anc in model.ancestors(node):
        if isinstance(anc, cst.With) and anc in tape_withs(model):
            return anc
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return None
    return None


def tape_withs(model: FileModel) -> Set[cst.With]:
    """Tape blocks: `with tf.GradientTape() as t:` and `t = tf.GradientTape(); with t:`."""
    cached = model_cache(model).get("tape_withs")
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
    model_cache(model)["tape_withs"] = out
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


def in_data_pipeline(model: FileModel, node: cst.CSTNode) -> bool:
    """Inside `dataset.map(...)`, `tf.data` or preprocessing code."""
    for anc in model.ancestors(node):
        if isinstance(anc, cst.Call):
            name = method_name(anc)
            if name in ("map", "flat_map", "interleave", "filter", "from_generator", "apply"):
                return True
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            break
    return False


def _called_in_tape(model: FileModel, fn: FunctionInfo, depth: int = 3) -> bool:
    """Some call of `fn` (a method via `self.`, a function by name) is inside a tape block or a
    Keras `call`, directly or through other helpers."""
    top = top_method(fn)
    if depth <= 0 or top is None:
        return False
    for call, owner in model.calls:
        func = call.func
        if top.is_method:
            ok = isinstance(func, cst.Attribute) and func.attr.value == top.name and is_name(func.value, "self")
        else:
            ok = is_name(func, top.name)
        if not ok:
            continue
        if enclosing_tape(model, call) is not None:
            return True
        if _is_output_method(context_root(owner)):
            return True
        if owner is not None and owner.context is not None and owner.context.kind == "helper" and top_method(owner) is not top:
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
    cached = model_cache(model).get("custom_gradient")
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
        if callee(model, call) in CUSTOM_GRADIENT and call.args:
            target = function_named(model, owner, call.args[0].value)
            info = model.function_of.get(target) if target is not None else None
            if info is not None:
                out.add(id(info))
    model_cache(model)["custom_gradient"] = out
    return out


def _in_custom_gradient(model: FileModel, fn: Optional[FunctionInfo]) -> bool:
    marked = _custom_gradient_functions(model)
    while fn is not None:
        if id(fn) in marked:
            return True
        fn = fn.parent
    return False


def tf_site(model: FileModel, node: cst.CSTNode) -> Optional[str]:
    """Where `node` is evaluated, if a gradient is recorded there: "tape", "call", "helper"."""
    ctx = model.context_of(node)
    if ctx is None or ctx.framework != "tensorflow":
        return None
    fn = model.enclosing_function(node)
    if _in_custom_gradient(model, fn):
        return None  # the function defines its own gradient (a straight-through round, a clip)
    if enclosing_tape(model, node) is not None:
        return "tape"
    if _is_output_method(context_root(fn)):
        return "call"
    if ctx.kind == "helper" and fn is not None and _called_in_tape(model, fn):
        return "helper"
    return None


def _accept_return(fn: FunctionInfo) -> bool:
    return _is_output_method(fn)


def reaches_loss(model: FileModel, node: cst.CSTNode, barrier=None):
    return model.flow.reaches_output(node, barrier=barrier, accept_return=_accept_return, module_level=True)


def tf_dtype_kind(model: FileModel, expr: Optional[cst.BaseExpression]) -> Optional[str]:
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


class Taint:
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
                for name in target_names(target):
                    self._assigns.setdefault((id(fn), name), []).append(node.value)
        for call, fn in self.model.calls:
            if method_name(call) == "watch" and call.args:
                for sub in descendants(call.args[0].value):
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
                name = callee(model, node)
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
                if is_name(node.value, "self") and fn is not None and self._weight_attr(fn, node.attr.value):
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
        for call, owner in self.model.calls:
            func = call.func
            if fn.is_method:
                if not (isinstance(func, cst.Attribute) and func.attr.value == fn.name and is_name(func.value, "self")):
                    continue
            elif not is_name(func, fn.name):
                continue
            value = argument_for(fn, call, param)
            if value is not None and self.carries(value, owner, depth):
                return True
        return False

    def _is_variable(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        name = callee(self.model, value)
        if name in TF_VARIABLE or name in KERAS_VARIABLE:
            trainable = keyword_argument(value, "trainable")
            return not is_name(trainable, "False")
        return False

    def _model_call(self, call: cst.Call, fn: Optional[FunctionInfo]) -> bool:
        model = self.model
        func = call.func
        if self._is_variable(call):
            return True
        if callee(model, call) is not None:
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
                name = callee(self.model, value)
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
                if method_name(value) in ("add_weight", "add_variable") and not is_name(keyword_argument(value, "trainable"), "False"):
                    return True
        return False


def taint_of(model: FileModel) -> Taint:
    return model.get(Taint)


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
    name = callee(model, call) or ""
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
        name = callee(model, call)
        spec = _DATA_ARGS.get(name or "")
        positional = positional_arguments(call)
        pos = argument_position(call, arg)
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


def path_barrier(model: FileModel):
    return lambda n: _selecting_argument(model, n)


def combined_with_carrier(model: FileModel, taint: Taint, node: cst.CSTNode, fn, ops=None) -> bool:
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
                name = callee(model, anc) or ""
                if name.rsplit(".", 1)[-1] not in ("multiply", "add", "subtract", "add_n", "matmul", "einsum", "concat", "stack"):
                    return False
            others = [a.value for a in anc.args if a is not child]
            return any(taint.carries(o, fn) for o in others)
        if isinstance(anc, (cst.ParenthesizedWhitespace,)):
            continue
        return False
    return False


def function_named(model: FileModel, scope: Optional[FunctionInfo], expr) -> Optional[cst.CSTNode]:
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
    if isinstance(expr, cst.Attribute) and is_name(expr.value, "self") and scope is not None and scope.cls is not None:
        fn = model.find_method(scope.cls, expr.attr.value)
        return fn.node if fn is not None else None
    return None


STOP_GRADIENT = {"tensorflow.stop_gradient", "keras.ops.stop_gradient", "keras.src.ops.stop_gradient", "tensorflow.keras.backend.stop_gradient"}
