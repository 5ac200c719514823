from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.frameworks import names as api_names, tensorflow as tf_api
from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.tensorflow.helpers import (
    SITE_TRIGGERS, STOP_GRADIENT, callee, combined_with_carrier, function_items, function_named,
    in_data_pipeline, method_name, only_untrained_networks, path_barrier, reaches_loss, tf_dtype_kind, tf_site,
    used_only_as_mask,
)
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.walk import descendants, target_names
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.facts import TensorFlowSources


def _auxiliary_output(model: FileModel, taint: TensorFlowSources, trace) -> bool:
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


def _display(name: str) -> str:
    """How the message names an op: `tf.argmax` for `tensorflow.math.argmax`."""
    last = name.rsplit(".", 1)[1]
    if name.startswith("tensorflow."):
        return "tf.math.ceil" if last == "ceil" else f"tf.{last}"
    return name


# The TensorFlow tables (fact tf36): name -> how the message names it.
_NONDIFF_OPS = {api.name: _display(api.name) for api in tf_api.ZERO_GRADIENT_OPS}
_CASTS = api_names(tf_api.CASTS)
_BOOL_FUNCS = api_names(tf_api.COMPARISON_FUNCTIONS)


class NonDifferentiableOpInLossTf(Rule):
    code = "GS407"
    name = "non-differentiable-op-in-loss-tf"
    framework = "tensorflow"
    summary = "`tf.argmax`/`round`/`floor`/`sign` or an integer/boolean `tf.cast` on the loss path: gradient None or zero"
    message = "{op} has no gradient and reaches the loss/output: nothing before it trains"
    explanation = (
        "Rounding, argmax, comparisons and integer casts have no gradient in TensorFlow (None, or zeros for "
        "tf.sign): the variables before them never train."
    )
    hint = "use a differentiable surrogate (softmax, sigmoid) or the straight-through idiom `v + tf.stop_gradient(tf.round(v) - v)`"
    facts = ("tf36", "tf52", "tf53", "tf56")
    triggers = (*SITE_TRIGGERS, "compile")
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

    A Keras metric's value used as the loss (`loss = 1.0 - auc.result()` after
    `auc.update_state(y, model(x))`, or `1.0 - precision(y, p)`) is flagged too when the loss
    carries no gradient another way: a metric accumulates counters by assignment, so its value
    has no gradient at all and every weight's is None (fact tf53). What carries no weight of its
    own is not read as a trained output: a preprocessing or lookup layer's ids (fact tf52), a
    Keras loss object's value on data (fact tf56).

    A function given to a Keras model's `compile(loss=fn)`, and the `call` of a
    `keras.losses.Loss` subclass, are checked too: Keras calls it as
    `fn(y_true, y_pred)`, and when every path from `y_pred` to what it returns passes through
    such an operation (a Dice loss on `tf.cast(y_pred > 0.5, ...)`), `fit()` stops with "No
    gradients provided for any variable" (fact tf36). A loss that also uses `y_pred`
    differentiably (a mask multiplied into the error) is not flagged.

    Not flagged: the same operations on labels, masks, shapes or inputs (they carry no
    gradient); results used as indices (`tf.gather`, `tf.one_hot`, subscripts), as the
    condition of `tf.where`, as loss targets, or multiplied into a differentiable value (a
    mask, also bound to a name first when every read of it is such a product:
    `keep = tf.cast(conf < 0.9, tf.float32)`, then `per_example * keep`); a target's or a
    teacher's output (a network the step's `tape.gradient` does not differentiate, also
    through a helper that runs the network it is given); metrics and predictions (they do not reach the loss; a metric's value used as a
    weight on a loss that carries gradient); the straight-through idiom
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
    - gradscan facts: tf36, tf52, tf53, tf56
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
        yield from self._compiled_losses(model)
        yield from self._metric_losses(model)
        taint = model.sources.tensorflow
        for call, fn in model.calls:
            op = self._op(model, call, taint, fn)
            if op is None:
                continue
            if tf_site(model, call) is None or in_data_pipeline(model, call):
                continue
            if self._inside_stop_gradient(model, call):
                continue
            barrier = path_barrier(model)
            if barrier(call) or combined_with_carrier(model, taint, call, fn, (cst.Multiply, cst.Divide)):
                continue
            if used_only_as_mask(model, taint, call, fn):
                continue  # `keep = tf.cast(conf < t, tf.float32)`, then `per * keep`: a mask
            trace = reaches_loss(model, call, barrier)
            if trace is None:
                continue
            carried = [a.value for a in call.args if taint.carries(a.value, fn)]
            if carried and all(only_untrained_networks(model, a, trace, fn) for a in carried):
                continue  # a target's or teacher's output: the step needs no gradient through it
            if trace.sink == "return":
                root = getattr(trace, "root", None)
                if op in ("tf.argmax", "tf.argmin", "keras.ops.argmax") and (root is None or root.name != "compute_loss"):
                    continue  # predictions returned by call(): class indices are an output, not a loss
                if _auxiliary_output(model, taint, trace):
                    continue
            yield Report(call, self.message.format(op=clip(op, 32)))

    @staticmethod
    def _op(model: FileModel, call: cst.Call, taint: TensorFlowSources, fn) -> Optional[str]:
        name = callee(model, call)
        if name in _NONDIFF_OPS:
            arg = find_argument(call, 0, "input") or find_argument(call, 0, "x")
            return _NONDIFF_OPS[name] if arg is not None and taint.carries(arg, fn) else None
        if name in _CASTS:
            value = find_argument(call, 0, "x")
            kind = tf_dtype_kind(model, find_argument(call, 1, "dtype"))
            if value is None:
                return None
            if isinstance(value, cst.Comparison):
                operands = [value.left, *(c.comparator for c in value.comparisons)]
                if any(taint.carries(o, fn) for o in operands):
                    return "tf.cast of a comparison"
                return None
            if isinstance(value, cst.Call) and callee(model, value) in _BOOL_FUNCS:
                if any(taint.carries(a.value, fn) for a in value.args):
                    return "tf.cast of a comparison"
                return None
            if kind in ("int", "bool") and taint.carries(value, fn):
                return f"tf.cast to an {'integer' if kind == 'int' else 'boolean'} dtype"
        return None

    def _metric_losses(self, model: FileModel) -> Iterator[Report]:
        """A Keras metric's value (`auc(y, p)`, `auc.result()` after `auc.update_state(y, p)`)
        given the model's output, when it is all the loss the tape differentiates: the value
        comes from counters updated by assignment, so every gradient is None (tf53). A loss
        that also carries gradient another way (a metric used as a weight) is not flagged."""
        taint = model.sources.tensorflow
        for call, fn in model.calls:
            if not _metric_value(model, taint, call, fn):
                continue
            if tf_site(model, call) is None or in_data_pipeline(model, call):
                continue
            trace = reaches_loss(model, call, path_barrier(model))
            if trace is None or trace.sink != "loss" or not trace.path or not isinstance(trace.path[-1], cst.Call):
                continue
            sink = trace.path[-1]
            target = find_argument(sink, 0, "target")
            if target is None or taint.carries(target, model.enclosing_function(sink)):
                continue
            yield Report(call, self.message.format(op="a Keras metric's value"))

    @staticmethod
    def _inside_stop_gradient(model: FileModel, node: cst.CSTNode) -> bool:
        for anc in model.ancestors(node):
            if isinstance(anc, cst.Call) and callee(model, anc) in STOP_GRADIENT:
                return True
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                return False
        return False

    def _compiled_losses(self, model: FileModel) -> Iterator[Report]:
        """Functions given to `compile(loss=...)` whose result depends on `y_pred` (the second
        parameter Keras passes) only through operations without a gradient."""
        seen = set()
        for call, fn in model.calls:
            if method_name(call) != "compile" or callee(model, call) is not None:
                continue
            for item in function_items(find_argument(call, 1, "loss")):
                target = function_named(model, fn, item)
                if not isinstance(target, cst.FunctionDef) or id(target) in seen:
                    continue
                seen.add(id(target))
                params = _positional_params(target)
                if len(params) < 2:
                    continue
                carries, ops = _LossPaths(model).analyse(target, params[1])
                if carries is False:
                    for op_call, op in ops:
                        yield Report(op_call, f"{clip(op, 32)} is the only path from y_pred to this compile() loss: fit() gets no gradient")
        # A `keras.losses.Loss` subclass is a loss wherever it is used: Keras calls its
        # `call(y_true, y_pred)`.
        for info in model.class_list:
            if not any(base.endswith("losses.Loss") and base.split(".", 1)[0] in ("keras", "tensorflow", "tf_keras")
                       for base in info.base_names):
                continue
            method = info.methods.get("call")
            if method is None or not isinstance(method.node, cst.FunctionDef) or id(method.node) in seen:
                continue
            seen.add(id(method.node))
            params = _positional_params(method.node)
            if len(params) < 2:
                continue
            carries, ops = _LossPaths(model).analyse(method.node, params[1])
            if carries is False:
                for op_call, op in ops:
                    yield Report(op_call, f"{clip(op, 32)} is the only path from y_pred to this Loss: fit() gets no gradient")


def _metric_value(model: FileModel, taint: TensorFlowSources, call: cst.Call, fn) -> bool:
    """`call` is a Keras metric's value computed from a value that carries gradient: the
    metric called on it, or its `result()` after an `update_state`/call on one."""
    func = call.func
    built = taint.constructors(func, fn)
    if built and all(taint.metric_constructor(v) for v in built):
        return any(taint.carries(a.value, fn) for a in call.args)
    if not (isinstance(func, cst.Attribute) and func.attr.value == "result" and not call.args):
        return False
    built = taint.constructors(func.value, fn)
    if not built or not all(taint.metric_constructor(v) for v in built):
        return False
    receiver = dotted(func.value)
    for other, owner in model.calls:
        f = other.func
        fed = dotted(f) == receiver or (
            isinstance(f, cst.Attribute) and f.attr.value == "update_state" and dotted(f.value) == receiver)
        if fed and receiver is not None and any(taint.carries(a.value, owner) for a in other.args):
            return True
    return False


def _positional_params(fn: cst.FunctionDef) -> list:
    names = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
    return names[1:] if names and names[0] == "self" else names


class _LossPaths:
    """Does a loss function's return value depend differentiably on one parameter? A small
    walk over the body in statement order (two passes for names assigned in loops): a name is
    differentiable when assigned from an expression that mentions a differentiable name outside
    a non-differentiable call; it is *cut* when it mentions one only inside such calls. Calls of
    other functions of the file are followed (depth 3); any other call passes the value on."""

    def __init__(self, model: FileModel, depth: int = 3):
        self.model = model
        self.depth = depth

    def analyse(self, fn: cst.FunctionDef, param: str):
        """(carries, ops): carries is True/False, or None when the value never reaches a return;
        ops are the non-differentiable calls (with their names) applied to the value."""
        diff, cut = {param}, set()
        ops: list = []
        body = fn.body
        for _ in range(2):
            for node in descendants(body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and node.value is not None:
                    d, c = self._expr(node.value, diff, cut, ops)
                    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                    for t in targets:
                        for name in target_names(t):
                            if d:
                                diff.add(name)
                                cut.discard(name)
                            elif c and name not in diff:
                                cut.add(name)
        carries, any_cut = False, False
        for node in descendants(body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            if isinstance(node, cst.Return) and node.value is not None:
                d, c = self._expr(node.value, diff, cut, ops)
                carries = carries or d
                any_cut = any_cut or c
        if carries:
            return True, []
        if not any_cut:
            return None, []
        unique, seen = [], set()
        for op_call, op in ops:
            if id(op_call) not in seen:
                seen.add(id(op_call))
                unique.append((op_call, op))
        return False, unique

    def _expr(self, expr, diff, cut, ops):
        """(differentiable, cut) for an expression."""
        if isinstance(expr, cst.Name):
            return expr.value in diff, expr.value in cut
        if isinstance(expr, cst.Attribute) and expr.attr.value in ("shape", "dtype", "ndim", "rank"):
            d, c = self._expr(expr.value, diff, cut, [])
            return False, d or c
        if isinstance(expr, cst.Comparison):
            d, c = self._children(expr, diff, cut, ops)
            return False, d or c
        if isinstance(expr, cst.Call):
            op = self._op(expr, diff, cut)
            if op is not None:
                d, c = self._children(expr, diff, cut, [])
                mentions = any(isinstance(n, cst.Name) and n.value in diff for n in descendants(expr))
                if mentions:
                    ops.append((expr, op))
                return False, d or c or mentions
            name = callee(self.model, expr)
            if name in STOP_GRADIENT:
                d, c = self._children(expr, diff, cut, [])
                return False, d or c
            local = self._local_function(expr)
            if local is not None and self.depth > 0:
                return self._through_local(expr, local, diff, cut, ops)
        return self._children(expr, diff, cut, ops)

    def _children(self, expr, diff, cut, ops):
        d = c = False
        for child in expr.children:
            cd, cc = self._expr(child, diff, cut, ops)
            d, c = d or cd, c or cc
        return d, c

    def _op(self, call: cst.Call, diff, cut) -> Optional[str]:
        name = callee(self.model, call)
        if name in _NONDIFF_OPS and not name.endswith(".sign"):
            return _NONDIFF_OPS[name]
        if name in _CASTS:
            value = find_argument(call, 0, "x")
            if isinstance(value, cst.Comparison) or (isinstance(value, cst.Call) and callee(self.model, value) in _BOOL_FUNCS):
                return "tf.cast of a comparison"
            kind = tf_dtype_kind(self.model, find_argument(call, 1, "dtype"))
            if kind in ("int", "bool"):
                return f"tf.cast to an {'integer' if kind == 'int' else 'boolean'} dtype"
        return None

    def _local_function(self, call: cst.Call) -> Optional[cst.FunctionDef]:
        if isinstance(call.func, cst.Name):
            info = self.model.module_functions.get(call.func.value)
            if info is not None and isinstance(info.node, cst.FunctionDef):
                return info.node
        return None

    def _through_local(self, call, target, diff, cut, ops):
        params = [p.name.value for p in (*target.params.posonly_params, *target.params.params)]
        d = c = False
        for i, arg in enumerate(call.args):
            ad, ac = self._expr(arg.value, diff, cut, ops)
            c = c or ac
            if not ad:
                continue
            if arg.keyword is not None:
                param = arg.keyword.value
            elif arg.star or i >= len(params):
                return True, c  # cannot map the argument: assume it carries
            else:
                param = params[i]
            inner_carries, inner_ops = _LossPaths(self.model, self.depth - 1).analyse(target, param)
            if inner_carries is False:
                ops.extend(inner_ops)
                c = True
            elif inner_carries is True:
                d = True
        return d, c
