"""What several GS4xx rules share."""
from __future__ import annotations

from typing import Optional, Set, Tuple

import libcst as cst

from gradscan.rules.common import is_name, model_cache  # noqa: F401 (is_name: for the family's rules)
from gradscan.frameworks import tensorflow as tf_api
from gradscan.semantics.arguments import argument_position, find_argument, positional_arguments
from gradscan.semantics import classes as kinds
from gradscan.semantics.contexts import is_gradient_tape
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.walk import descendants
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.facts import KERAS_KINDS, TensorFlowSources
from gradscan.semantics import tf_training
from gradscan.semantics.definitions import Definitions

TF_VARIABLE = {api.name for api in tf_api.WEIGHT_FACTORIES if api.fact == "tf26"}
KERAS_VARIABLE = {api.name for api in tf_api.WEIGHT_FACTORIES if api.fact == "tf40"}
# Methods whose return value is a differentiable output.
OUTPUT_METHODS = {"call", "__call__", "compute_loss"}


# A finding of the flow-based rules needs a tape block or a Keras `call`/`compute_loss` (or a
# tf.Module `__call__`) in the file: these are the engine's cheap pre-parse triggers for them.
SITE_TRIGGERS = ("GradientTape", "def call", "compute_loss", "__call__")


def callee(model: FileModel, call: cst.Call) -> Optional[str]:
    """`model.callee(call)`, memoized (with the TensorFlow sources, which ask it too): every
    rule of the family asks it for every call."""
    return model.sources.tensorflow.callee(call)


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
    # a method through an object of its class too (`scorer.worst_case(x, y)` in a tape)
    resolved = {id(c) for c, _owner in model.objects.callers_of(top)}
    for call, owner in model.calls:
        func = call.func
        if top.is_method:
            ok = isinstance(func, cst.Attribute) and func.attr.value == top.name and is_name(func.value, "self")
        else:
            ok = is_name(func, top.name)
        if not ok and id(call) not in resolved:
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


def combined_with_carrier(model: FileModel, taint: TensorFlowSources, node: cst.CSTNode, fn, ops=None) -> bool:
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


def used_only_as_mask(model: FileModel, taint: TensorFlowSources, node: cst.CSTNode, fn) -> bool:
    """`node` is the whole value of `name = node` and every read of `name` that this binding
    reaches is multiplied into (or divides) a value that carries gradient, or selects
    (`mask = tf.cast(conf > 0.9, tf.float32)` then `tf.reduce_mean(per_example * mask)`): a
    mask or weight, the gradient flows through the other operand."""
    stmt = model.parent(node)
    if not (isinstance(stmt, cst.Assign) and stmt.value is node and len(stmt.targets) == 1
            and isinstance(stmt.targets[0].target, cst.Name)):
        return False
    name = stmt.targets[0].target.value
    scope = fn.node if fn is not None else model.module
    defs = model.get(Definitions)
    barrier = path_barrier(model)
    uses = 0
    for use in descendants(scope):
        if not isinstance(use, cst.Name) or use.value != name or use is stmt.targets[0].target:
            continue
        parent = model.parent(use)
        if isinstance(parent, (cst.AssignTarget, cst.Param)) or (isinstance(parent, cst.Attribute) and parent.attr is use):
            continue
        bindings, _kind = defs.reaching(use, fn)
        if not any(b.stmt is stmt for b in bindings):
            continue
        uses += 1
        product = model.parent(use)
        if isinstance(product, cst.BinaryOperation) and all(
                any(isinstance(n, cst.Name) and n.value == name for n in (side, *descendants(side)))
                for side in (product.left, product.right)):
            return False  # `r * r`: the value times itself is no mask on another value
        if not (barrier(use) or combined_with_carrier(model, taint, use, fn, (cst.Multiply, cst.Divide))):
            return False
    return uses > 0


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


def function_items(expr) -> list:
    """The function expressions `compile(loss=..., metrics=...)` names: one, or a list, tuple or
    dict of them."""
    if expr is None:
        return []
    if isinstance(expr, (cst.List, cst.Tuple)):
        return [e.value for e in expr.elements if isinstance(e, cst.Element)]
    if isinstance(expr, cst.Dict):
        return [e.value for e in expr.elements if isinstance(e, cst.DictElement)]
    return [expr]


STOP_GRADIENT = {"tensorflow.stop_gradient", "keras.ops.stop_gradient", "tensorflow.keras.ops.stop_gradient", "keras.src.ops.stop_gradient", "tensorflow.keras.backend.stop_gradient"}


def only_untrained_networks(model: FileModel, value: cst.BaseExpression, trace, fn) -> bool:
    """Everything `value` carries comes from networks the step does not differentiate (a
    target network's Q-values, a teacher's pseudo-labels, also through a helper that runs the
    network it is given): `tape.gradient(loss, sources)` at the end of `trace` lists the weights
    of other objects, or the network is synced or frozen. A cut there removes no gradient the
    step needs. Proved by the code, never by a name; unknown (a parameter, `self`, sources not
    resolved) is not proof."""
    sink = trace.path[-1] if trace is not None and trace.sink == "loss" and trace.path else None
    if not isinstance(sink, cst.Call) or tf_training.gradient_sources(sink) is None:
        return False
    networks = tf_training.networks_behind(model, value, fn)
    if not networks:
        return False
    for net in networks:
        trained = tf_training.network_trained(model, sink, net, fn)
        if trained is None and not tf_training.synced_or_frozen(model, net):
            return False
        if trained:
            return False
    return True


def listed_sources(model: FileModel) -> Set[str]:
    """Names the file lists as what the tape differentiates or the optimizer updates: the sources
    of `.gradient(target, sources)`, the variables of `apply_gradients(zip(grads, vars))`, the
    `var_list` of `minimize`; a name listed there that is bound to a list literal lists its items."""
    given = []
    for call, _fn in model.calls:
        m = method_name(call)
        if m == "gradient":
            given.append(find_argument(call, 1, "sources"))
        elif m == "apply_gradients":
            pairs = find_argument(call, 0, "grads_and_vars")
            if isinstance(pairs, cst.Call) and is_name(pairs.func, "zip") and len(pairs.args) == 2:
                given.append(pairs.args[1].value)
        elif m == "minimize":
            given.append(find_argument(call, 1, "var_list"))
    names: Set[str] = set()
    containers: Set[str] = set()
    for expr in given:
        if isinstance(expr, cst.Name):
            names.add(expr.value)
            containers.add(expr.value)
        elif expr is not None:
            names.update(_listed_names(expr))  # `[w, b]`, `model.trainable_variables + [scale]`
    if containers:
        for node, _fn in model.assignments:
            if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) \
                    and node.targets[0].target.value in containers:
                names.update(_listed_names(node.value))
    return names


def _listed_names(expr) -> Set[str]:
    """The names that are items of a list or tuple literal anywhere in `expr`."""
    out: Set[str] = set()
    for node in [expr, *descendants(expr)]:
        if isinstance(node, (cst.List, cst.Tuple)):
            out.update(e.value.value for e in node.elements if isinstance(e, cst.Element) and isinstance(e.value, cst.Name))
    return out


def read_in_forward(model: "FileModel", cls, attr: str) -> bool:
    """`self.<attr>` is read in the class's `call()`/`__call__` on the way to what it returns."""
    for name in ("call", "__call__"):
        fn = model.find_method(cls, name)
        if fn is None:
            continue
        for node in descendants(fn.node.body):
            if isinstance(node, cst.Attribute) and node.attr.value == attr and is_name(node.value, "self"):
                if model.flow.reaches_output(node) is not None:
                    return True
    return False
