from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.tensorflow.helpers import (
    SITE_TRIGGERS, STOP_GRADIENT, callee, combined_with_carrier, in_data_pipeline, path_barrier,
    reaches_loss, tf_dtype_kind, tf_site,
)
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.model import FileModel
from gradscan.semantics.sources import TensorFlowSources


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
    message = "{op} has no gradient and reaches the loss/output: nothing before it trains"
    explanation = (
        "Rounding, argmax, comparisons and integer casts have no gradient in TensorFlow (None, or zeros for "
        "tf.sign): the variables before them never train."
    )
    hint = "use a differentiable surrogate (softmax, sigmoid) or the straight-through idiom `v + tf.stop_gradient(tf.round(v) - v)`"
    facts = ("tf36",)
    triggers = SITE_TRIGGERS
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
            trace = reaches_loss(model, call, barrier)
            if trace is None:
                continue
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

    @staticmethod
    def _inside_stop_gradient(model: FileModel, node: cst.CSTNode) -> bool:
        for anc in model.ancestors(node):
            if isinstance(anc, cst.Call) and callee(model, anc) in STOP_GRADIENT:
                return True
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                return False
        return False
