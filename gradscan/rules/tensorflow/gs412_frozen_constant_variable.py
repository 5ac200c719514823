from __future__ import annotations

from typing import Iterator, Optional, Set

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import KERAS_VARIABLE, TF_VARIABLE, callee, is_name, method_name, read_in_forward
from gradscan.semantics import classes as kinds
from gradscan.semantics.arguments import keyword_argument, positional_argument
from gradscan.semantics.facts import KERAS_KINDS
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

# Methods that write a variable in place.
_WRITERS = {"assign", "assign_add", "assign_sub", "scatter_update", "scatter_add", "scatter_sub", "scatter_nd_update"}
# Calls that restore or copy a model's variables from elsewhere (a checkpoint, another model).
_RESTORES = {"set_weights", "load_weights", "restore", "read", "load_own_variables", "load_state"}
# What makes the file a training file: something is differentiated or fitted.
_TRAINS = {"gradient", "apply_gradients", "minimize", "fit", "train_on_batch"}
# Initial values that are one constant everywhere (`tf.ones(...)`, `"zeros"`, `Constant(0.5)`).
_CONSTANT_FACTORIES = {"ones", "zeros", "fill", "constant", "Ones", "Zeros", "Constant"}
_NON_FLOAT = {"int8", "int16", "int32", "int64", "uint8", "bool", "string"}


class FrozenConstantVariable(Rule):
    code = "GS412"
    name = "frozen-constant-variable"
    framework = "tensorflow"
    summary = "A float variable made with `trainable=False`, set to a constant, never assigned, read in `call()`: it keeps its initial value forever"
    message = "`self.{attr}` is trainable=False and nothing assigns it: it keeps its initial value; drop trainable=False"
    explanation = (
        "A variable made with trainable=False is left out of trainable_variables: no tape.gradient over them and "
        "no fit() ever updates it, and nothing in the file assigns it, so call() reads its initial constant."
    )
    hint = "drop `trainable=False` (or assign the variable yourself if it is a statistic)"
    facts = ("tf55",)
    triggers = ("trainable=False",)
    doc = """
    ## What it does
    Flags `trainable=False` on a float variable of a Keras layer or model (Keras 3 or legacy)
    or a `tf.Module` (`self.x = tf.Variable(0.0, trainable=False)`, `self.x =
    self.add_weight(..., initializer="ones", trainable=False)`) when all of this holds:
    - its initial value is one constant (a float literal, `tf.ones`/`tf.zeros`/`tf.fill`/
      `tf.constant` of a literal, an add_weight with no initializer or a `"ones"`/`"zeros"`/
      `Constant(...)` one), not data (a pretrained matrix, a vocabulary);
    - nothing in the file writes it (no `.assign`/`.assign_add`/`.assign_sub` on it, no
      function given it as an argument, no other binding of the attribute), and nothing
      restores variables (`set_weights`, `load_weights`, a checkpoint's `restore`);
    - `call()` (`__call__` for a `tf.Module`) reads it on the way to what it returns;
    - the file trains (a `tape.gradient`, `apply_gradients`, `minimize`, `fit` or
      `train_on_batch`).

    ## Why it breaks gradients
    `trainable=False` leaves the variable out of `trainable_variables`, so neither
    `tape.gradient(loss, model.trainable_variables)` nor `fit()` ever updates it (fact tf55).
    A non-trainable variable is meant to be written by the code (a counter, a moving
    statistic); one that nothing writes and that starts at a constant is that constant
    forever: a learned temperature, scale or gate copied from a "fixed weight" example never
    learns, silently, while the rest of the model trains.

    Not flagged: integer or boolean variables (counters, flags), variables assigned anywhere
    in the file (moving averages, step counters, EMA copies), variables initialised from data
    (frozen embeddings, lookup tables), files that restore weights, and `trainable=` given
    anything but the literal `False`.

    ## Example
    ```python
    class Calibrator(tf.Module):
        def __init__(self):
            self.log_temperature = tf.Variable(0.0, trainable=False)

        def __call__(self, logits):
            return logits / tf.exp(self.log_temperature)
    ```

    ## Use instead
    ```python
    class Calibrator(tf.Module):
        def __init__(self):
            self.log_temperature = tf.Variable(0.0)

        def __call__(self, logits):
            return logits / tf.exp(self.log_temperature)
    ```

    ## References
    - TensorFlow guide "Introduction to Variables": `trainable=False` variables are not watched or trained
    - Keras API: `Layer.add_weight(trainable=...)`, `Layer.non_trainable_weights`
    - gradscan facts: tf55
    """
    invalid = (
        """
        import tensorflow as tf

        class Calibrator(tf.Module):
            def __init__(self):
                super().__init__()
                self.log_temperature = tf.Variable(0.0, trainable=False)  # error: GS412

            def __call__(self, logits):
                return logits / tf.exp(self.log_temperature)

        def fit(module, logits, labels, opt):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, module(logits)))
            grads = tape.gradient(loss, module.trainable_variables)
            opt.apply_gradients(zip(grads, module.trainable_variables))
        """,
    )
    valid = (
        """
        import tensorflow as tf

        class Calibrator(tf.Module):
            def __init__(self):
                super().__init__()
                self.log_temperature = tf.Variable(0.0)
                self.calls = tf.Variable(0, trainable=False)

            def __call__(self, logits):
                self.calls.assign_add(1)
                return logits / tf.exp(self.log_temperature)

        def fit(module, logits, labels, opt):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, module(logits)))
            grads = tape.gradient(loss, module.trainable_variables)
            opt.apply_gradients(zip(grads, module.trainable_variables))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        classes = [c for c in model.class_list if c.kind in KERAS_KINDS or c.kind == kinds.TF_MODULE]
        if not classes or not _trains(model):
            return
        written = _written_attributes(model)
        if written is None:
            return  # the file restores variables: a frozen value may come from a checkpoint
        bound: dict = {}
        for c in model.class_list:
            for attr, _value, _node, _method in c.self_assigns:
                bound[attr] = bound.get(attr, 0) + 1
        for cls in classes:
            for attr, value, _node, _method in cls.self_assigns:
                if bound.get(attr) != 1 or attr in written or not isinstance(value, cst.Call):
                    continue
                flag = keyword_argument(value, "trainable")
                if flag is None or not is_name(flag, "False"):
                    continue
                shown = _constant_float(model, value)
                if shown is None or not read_in_forward(model, cls, attr):
                    continue
                arg = next(a for a in value.args if a.keyword is not None and a.keyword.value == "trainable")
                yield Report(arg, self.message.format(attr=attr))


def _trains(model: FileModel) -> bool:
    return any(method_name(call) in _TRAINS for call, _fn in model.calls)


def _written_attributes(model: FileModel) -> Optional[Set[str]]:
    """Attribute names the file may write in place: the receiver of a writer method, an
    attribute given to a function (it may assign it), an augmented assignment's target.
    None when the file restores variables from elsewhere."""
    out: Set[str] = set()
    for call, _fn in model.calls:
        func = call.func
        if isinstance(func, cst.Attribute):
            if func.attr.value in _RESTORES:
                return None
            if func.attr.value in _WRITERS and isinstance(func.value, cst.Attribute):
                out.add(func.value.attr.value)
        name = callee(model, call)
        last = (name or "").rsplit(".", 1)[-1].lower()
        if name is None or "assign" in last or "update" in last:
            # a helper of the project, or a library writer (`assign_moving_average(v, ...)`)
            for a in call.args:
                if isinstance(a.value, cst.Attribute):
                    out.add(a.value.attr.value)
    for node in descendants(model.module):
        if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Attribute):
            out.add(node.target.attr.value)
        if isinstance(node, cst.Call) and (dotted(node.func) or "").endswith("Checkpoint"):
            return None
    return out


def _constant_float(model: FileModel, value: cst.Call) -> Optional[str]:
    """How the initial value reads when it is one float constant (`0.0`, `"ones"`), else None."""
    name = callee(model, value)
    dtype = keyword_argument(value, "dtype")
    text = (dotted(dtype) or (dtype.value.strip("'\"") if isinstance(dtype, cst.SimpleString) else "")) if dtype is not None else ""
    if text.rsplit(".", 1)[-1] in _NON_FLOAT:
        return None
    if name in TF_VARIABLE or name in KERAS_VARIABLE:
        init = positional_argument(value, 0) or keyword_argument(value, "initial_value") or keyword_argument(value, "initializer")
        return _constant_text(model, init, allow_int=bool(text))
    if method_name(value) in ("add_weight", "add_variable") and is_name(value.func.value, "self"):
        init = keyword_argument(value, "initializer")
        if init is None:
            return "at its default initial value"
        return _constant_text(model, init, allow_int=False)
    return None


def _constant_text(model: FileModel, init, allow_int: bool) -> Optional[str]:
    if init is None:
        return None
    expr = init.expression if isinstance(init, cst.UnaryOperation) else init
    if isinstance(expr, cst.Float) or (allow_int and isinstance(expr, cst.Integer)):
        return f"at {model.module.code_for_node(init)}"
    if isinstance(init, cst.SimpleString) and init.value.strip("'\"") in ("ones", "zeros"):
        return f"at its {init.value.strip(chr(39) + chr(34))} initial value"
    if isinstance(init, cst.Call):
        last = (dotted(init.func) or "").rsplit(".", 1)[-1]
        if last not in _CONSTANT_FACTORIES:
            return None
        # the value argument must be a literal; a shape may be anything
        value = None
        if last in ("constant", "Constant"):
            value = positional_argument(init, 0) or keyword_argument(init, "value")
        elif last == "fill":
            value = positional_argument(init, 1) or keyword_argument(init, "value")
        if value is not None:
            inner = value.expression if isinstance(value, cst.UnaryOperation) else value
            if not isinstance(inner, (cst.Float, cst.Integer)):
                return None
        elif last in ("constant", "Constant", "fill"):
            return None
        return f"at {model.module.code_for_node(init)}"
    return None
