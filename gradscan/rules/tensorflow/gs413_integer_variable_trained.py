from __future__ import annotations

from typing import Iterator, Set

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import KERAS_VARIABLE, TF_VARIABLE, callee, is_name, listed_sources, method_name, read_in_forward, tf_dtype_kind
from gradscan.semantics import classes as kinds
from gradscan.semantics.arguments import keyword_argument, positional_argument
from gradscan.semantics.facts import KERAS_KINDS
from gradscan.semantics.model import FileModel
from gradscan.semantics.walk import descendants

# Methods that write a variable in place: a variable the code writes is a counter or a state,
# not a weight meant to learn.
_WRITERS = {"assign", "assign_add", "assign_sub", "scatter_update", "scatter_add", "scatter_sub", "scatter_nd_update"}
# What makes the file a training file: something is differentiated or fitted.
_TRAINS = {"gradient", "apply_gradients", "minimize", "fit", "train_on_batch"}


class IntegerVariableTrained(Rule):
    code = "GS413"
    name = "integer-variable-trained"
    framework = "tensorflow"
    summary = "An integer variable (`tf.Variable(0)`, `add_weight(dtype=\"int32\")`) given to the tape or the optimizer as a weight: its gradient is always None"
    message = "`{name}` is an integer variable: its gradient is None, it never trains; make it float"
    explanation = (
        "GradientTape differentiates floating-point tensors only: an int32/int64 variable is never watched, its "
        "gradient is None, and optimizers skip it (or raise 'No gradients provided for any variable')."
    )
    hint = "write the initial value as a float (`tf.Variable(0.0)`) or pass a float dtype; cast to int where an integer is needed"
    facts = ("tf57",)
    triggers = ("Variable", "add_weight", "add_variable")
    doc = """
    ## What it does
    Flags a variable whose dtype is an integer (`tf.Variable(0)`, `tf.Variable([1, 2])`,
    `keras.Variable(3)`, `tf.Variable(x, dtype=tf.int32)`, `self.add_weight(...,
    dtype="int32")`) when the code treats it as a weight to learn, and nothing writes it:
    - a name bound to it is listed among the sources of `tape.gradient(loss, [...])`, the
      variables of `apply_gradients(zip(grads, [...]))` or the `var_list` of `minimize`
      (directly, or in a list literal bound to a name that is listed); or
    - it is an attribute of a Keras layer or model or a `tf.Module`, made without
      `trainable=False`, read in `call()`/`__call__` on the way to what it returns, in a file
      that trains (`tape.gradient`, `apply_gradients`, `minimize`, `fit`, `train_on_batch`):
      `trainable_variables` lists it.

    ## Why it breaks gradients
    TensorFlow differentiates floating-point tensors only: a variable whose initial value is
    a Python int is an int32 variable, the tape does not watch it and `tape.gradient` returns
    None for it; Keras optimizers skip it with a "Gradients do not exist" warning, and `fit()`
    raises "No gradients provided for any variable" when it is the only weight (fact tf57).
    The offset, scale or threshold it holds keeps its initial value for ever, silently when
    other weights train beside it. `tf.Variable(0)` reads like `tf.Variable(0.0)`; only the
    missing `.0` differs.

    Not flagged: integer variables the code writes (`step.assign_add(1)`: counters, indices),
    ones made with `trainable=False`, float variables, and integer variables that are only read
    (a step counter scaling a warm-up inside the tape).

    ## Example
    ```python
    slope = tf.Variable(0.5)
    offset = tf.Variable(0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((slope * x + tf.cast(offset, tf.float32) - y) ** 2)
    grads = tape.gradient(loss, [slope, offset])
    ```

    ## Use instead
    ```python
    slope = tf.Variable(0.5)
    offset = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((slope * x + offset - y) ** 2)
    grads = tape.gradient(loss, [slope, offset])
    ```

    ## References
    - TensorFlow guide "Introduction to gradients and automatic differentiation": gradients of integer tensors are None
    - keras-team/keras#20058, tensorflow/tensorflow#27378
    - gradscan facts: tf57
    """
    invalid = (
        """
        import tensorflow as tf

        slope = tf.Variable(0.5)
        offset = tf.Variable(0)  # error: GS413
        opt = tf.keras.optimizers.SGD(0.1)

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((slope * x + tf.cast(offset, tf.float32) - y) ** 2)
            grads = tape.gradient(loss, [slope, offset])
            opt.apply_gradients(zip(grads, [slope, offset]))
        """,
    )
    valid = (
        """
        import tensorflow as tf

        slope = tf.Variable(0.5)
        offset = tf.Variable(0.0)
        step_count = tf.Variable(0)
        opt = tf.keras.optimizers.SGD(0.1)

        def step(x, y):
            with tf.GradientTape() as tape:
                warmup = tf.minimum(1.0, tf.cast(step_count, tf.float32) / 10.0)
                loss = warmup * tf.reduce_mean((slope * x + offset - y) ** 2)
            grads = tape.gradient(loss, [slope, offset])
            opt.apply_gradients(zip(grads, [slope, offset]))
            step_count.assign_add(1)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not any(method_name(call) in _TRAINS for call, _fn in model.calls):
            return
        written = _written(model)
        listed = listed_sources(model)
        for node, _fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0].target
            if not isinstance(target, cst.Name) or target.value not in listed or target.value in written:
                continue
            if _integer_variable(model, node.value, attribute=False):
                yield Report(node.value, self.message.format(name=target.value))
        bound: dict = {}
        for c in model.class_list:
            for attr, _value, _node, _method in c.self_assigns:
                bound[attr] = bound.get(attr, 0) + 1
        for cls in model.class_list:
            if cls.kind not in KERAS_KINDS and cls.kind != kinds.TF_MODULE:
                continue
            for attr, value, _node, _method in cls.self_assigns:
                if bound.get(attr) != 1 or attr in written:
                    continue
                if _integer_variable(model, value, attribute=True) and read_in_forward(model, cls, attr):
                    yield Report(value, self.message.format(name=f"self.{attr}"))


def _integer_variable(model: FileModel, value, attribute: bool) -> bool:
    """`value` makes a variable whose dtype is an integer and that is not `trainable=False`."""
    if not isinstance(value, cst.Call):
        return False
    if is_name(keyword_argument(value, "trainable"), "False"):
        return False
    name = callee(model, value)
    dtype = tf_dtype_kind(model, keyword_argument(value, "dtype"))
    if name in TF_VARIABLE or name in KERAS_VARIABLE:
        if dtype is not None:
            return dtype == "int"
        init = positional_argument(value, 0) or keyword_argument(value, "initial_value") or keyword_argument(value, "initializer")
        return _integer_literal(init)
    if attribute and method_name(value) in ("add_weight", "add_variable") and is_name(value.func.value, "self"):
        return dtype == "int"
    return False


def _integer_literal(expr) -> bool:
    """An int literal, or a (nested) list or tuple of int literals only."""
    if isinstance(expr, cst.UnaryOperation):
        expr = expr.expression
    if isinstance(expr, cst.Integer):
        return True
    if isinstance(expr, (cst.List, cst.Tuple)) and expr.elements:
        return all(isinstance(e, cst.Element) and _integer_literal(e.value) for e in expr.elements)
    return False


def _written(model: FileModel) -> Set[str]:
    """Names and attribute names the file writes in place (`v.assign_add(1)`, `self.v.assign(...)`,
    `v += 1`), or hands to a function that may write it."""
    out: Set[str] = set()
    for call, _fn in model.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _WRITERS:
            if isinstance(func.value, cst.Name):
                out.add(func.value.value)
            elif isinstance(func.value, cst.Attribute):
                out.add(func.value.attr.value)
    for node in descendants(model.module):
        if isinstance(node, cst.AugAssign):
            t = node.target
            if isinstance(t, cst.Name):
                out.add(t.value)
            elif isinstance(t, cst.Attribute):
                out.add(t.attr.value)
    return out
