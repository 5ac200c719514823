from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    SITE_TRIGGERS, callee, in_data_pipeline, path_barrier, reaches_loss, tf_site,
)
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.model import FileModel
from gradscan.semantics.sources import MODEL_TOKENS

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
    message = "value converted to NumPy/Python reaches the loss: the tape loses it; stay in tf ops"
    explanation = (
        "The tape records TensorFlow ops only: the converted value has gradient None in eager mode, and graph "
        "mode raises an error."
    )
    hint = "keep the computation in TensorFlow ops (`tf.*`, `tf.experimental.numpy`); convert to NumPy only after `tape.gradient`"
    facts = ("tf30", "tf31")
    triggers = SITE_TRIGGERS
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
        taint = model.sources.tensorflow
        for call, fn in model.calls:
            value = self._converted(model, call)
            if value is None:
                continue
            if value is not call and not taint.carries(value, fn):
                continue
            if tf_site(model, call) is None or in_data_pipeline(model, call):
                continue
            if reaches_loss(model, call, path_barrier(model)) is None:
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
            if attr == "predict" and call.args and callee(model, call) is None:
                text = dotted(func.value) or ""
                last = text.rsplit(".", 1)[-1]
                if text == "self" and _own_predict(model, call):
                    return None
                if (text == "self" or tokens(last) & MODEL_TOKENS) and not tokens(text) & _TARGET_WORDS:
                    return call
                return None
        name = callee(model, call)
        if name is None and isinstance(func, cst.Name) and func.value in ("float", "int") and len(call.args) == 1:
            return call.args[0].value
        if name in K_EVAL and call.args:
            return call.args[0].value
        if name and name.startswith("numpy.") and name not in NUMPY_METADATA and call.args:
            # np.* applied to a tensor: a taint in any argument
            return cst.Tuple([cst.Element(a.value) for a in call.args])
        return None


def _own_predict(model: FileModel, call: cst.Call) -> bool:
    """`self.predict(...)` in a class that defines `predict` itself (or a base in this file):
    the project's own method (a beam search, a decoder loop), not Keras `Model.predict`."""
    fn = model.enclosing_function(call)
    while fn is not None and fn.cls is None:
        fn = fn.parent
    return fn is not None and model.find_method(fn.cls, "predict") is not None
