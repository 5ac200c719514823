from __future__ import annotations

from typing import Dict, Iterator, Optional

import libcst as cst

from gradscan.frameworks import names as api_names, tensorflow as tf_api
from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    callee, function_named, in_data_pipeline, path_barrier, reaches_loss, tf_dtype_kind,
    tf_site,
)
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics.model import FileModel
from gradscan.semantics.walk import descendants

NUMPY_FUNCTION = api_names(tf_api.NUMPY_FUNCTIONS)
PY_FUNCTION = api_names(tf_api.PY_FUNCTIONS)


def _uses_numpy(model: FileModel, body: cst.CSTNode) -> bool:
    for node in descendants(body):
        if isinstance(node, cst.Call):
            name = callee(model, node) or ""
            if name.startswith("numpy.") or (isinstance(node.func, cst.Attribute) and node.func.attr.value == "numpy" and not node.args):
                return True
    return False


def _float_output(model: FileModel, tout) -> bool:
    """Tout is not only integers, booleans or strings (which carry no gradient anyway)."""
    if tout is None:
        return True
    if isinstance(tout, (cst.List, cst.Tuple)):
        return any(_float_output(model, e.value) for e in tout.elements)
    return tf_dtype_kind(model, tout) not in ("int", "bool", "string")


class NumpyFunctionInTrainingPath(Rule):
    code = "GS403"
    name = "numpy-function-in-training-path"
    framework = "tensorflow"
    summary = "`tf.numpy_function` (or a NumPy-bodied `tf.py_function`) on the loss path: no gradient flows through it"
    message = "tf.numpy_function reaches the loss: the weights before it get gradient None"
    explanation = (
        "TensorFlow has no gradient for tf.numpy_function: everything computed before it gets gradient None."
    )
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
        taint = model.sources.tensorflow
        decorated = self._decorated(model)
        for call, fn in model.calls:
            name = callee(model, call)
            if isinstance(call.func, cst.Name) and call.func.value in decorated and name is None:
                # `@tf.numpy_function(Tout=tf.float32) def f(x): ...` then `f(h)`
                tout = decorated[call.func.value]
                if not _float_output(model, tout):
                    continue
                inputs = cst.Tuple([cst.Element(a.value) for a in call.args]) if call.args else None
                if inputs is None or not taint.carries(inputs, fn):
                    continue
                if in_data_pipeline(model, call) or tf_site(model, call) is None:
                    continue
                if reaches_loss(model, call, path_barrier(model)) is not None:
                    yield Report(call)
                continue
            if name in NUMPY_FUNCTION:
                message = None
            elif name in PY_FUNCTION:
                body = function_named(model, fn, find_argument(call, 0, "func"))
                if body is None or not _uses_numpy(model, body):
                    continue
                message = "tf.py_function with a NumPy body reaches the loss: its gradient is silently zero"
            else:
                continue
            if not _float_output(model, find_argument(call, 2, "Tout")):
                continue
            inputs = find_argument(call, 1, "inp")
            if inputs is None or not taint.carries(inputs, fn):
                continue
            if in_data_pipeline(model, call) or tf_site(model, call) is None:
                continue
            if reaches_loss(model, call, path_barrier(model)) is None:
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
                    out[name] = keyword_argument(dec, "Tout")
        return out
