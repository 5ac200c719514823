from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.frameworks import names as api_names, tensorflow as tf_api
from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    SITE_TRIGGERS, callee, function_items, function_named, in_data_pipeline, is_name, method_name, only_untrained_networks, path_barrier,
    reaches_loss,
    tf_site,
)
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.model import FileModel
from gradscan.semantics.summaries import LIBRARIES, Summaries
from gradscan.semantics.facts import MODEL_TOKENS
from gradscan.semantics import tf_training
from gradscan.semantics.walk import descendants, mentions_name, target_names

K_EVAL = api_names(tf_api.EVAL_TO_NUMPY)
NUMPY_METADATA = {"numpy.shape", "numpy.ndim", "numpy.size", "numpy.isscalar", "numpy.dtype", "numpy.result_type", "numpy.iinfo", "numpy.finfo"}
# A hint only, when the file shows neither what the tape trains nor a sync (`_untrained_network`).
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
    facts = ("tf30", "tf31", "tf48", "tf51")
    triggers = (*SITE_TRIGGERS, "compile")
    doc = """
    ## What it does
    Flags, inside a `tf.GradientTape` block, a Keras `call()`/`compute_loss()`, or a function
    called there: `.numpy()`, `float(...)`/`int(...)`, NumPy functions (`np.square(t)`),
    `model.predict(...)`, `K.eval(...)`/`keras.backend.get_value(...)` applied to a value that
    carries gradient (a layer or model output, a trainable variable), when the result reaches
    the loss or what `call()` returns. Also NumPy functions and `.numpy()` applied to the
    arguments of a function given to a Keras model's `compile(loss=fn)` or
    `compile(metrics=[fn])` (Keras runs it on `y_true`, `y_pred` inside its training step).
    In a tape block it also flags `.numpy()` (or another conversion) of a value from a function the file cannot see
    into (a loss closure `loss_fn()`, a library loss) when that value, joined by nothing but
    constants on the way, is what `tape.gradient` differentiates: asking the tape for its
    gradient says it was the loss. A function of another project file that returns its
    argument as NumPy/Python data (`to_numpy(pred)` from `utils.py`, by the project index's
    summary of it) is a conversion like `.numpy()` written inline. One cut is reported once:
    where the value first leaves TensorFlow, not again at each NumPy call it then passes
    through (`np.mean(np.square(pred.numpy() - y))` is one finding, at `.numpy()`).

    ## Why it breaks gradients
    The conversion leaves TensorFlow: the tape cannot see through a NumPy array or a Python
    float. In eager mode the gradient of everything upstream is None, silently; in graph mode
    (`tf.function`, Keras 3 `fit()`) it is an error such as "'SymbolicTensor' object has no
    attribute 'numpy'" or "Cannot convert a symbolic tf.Tensor to a numpy array"; with
    `run_eagerly=True`, "No gradients provided for any variable" (facts tf30, tf31; a Keras
    model's `predict()` returns a NumPy array too, fact tf51). A loss or
    metric given to `compile()` is called on symbolic tensors by `fit()`: NumPy in it fails
    at once (fact tf48); a metric run with `run_eagerly=True` works and is not flagged.

    Not flagged: `tf.experimental.numpy` (differentiable, fact tf31); NumPy on constants,
    shapes, labels or configuration; `.numpy()` for logging or after `tape.gradient`; values
    used only as indices, masks or loss targets; `predict` of a network the step does not
    train: the tape differentiates the weights of other objects, or the network is synced
    (`set_weights`, an EMA `assign`) or frozen. A network the tape differentiates is flagged
    whatever it is called (`target_model.predict(x)` with `tape.gradient(loss,
    target_model.trainable_variables)`); its name (target, teacher, ema) decides only when
    the file shows neither.

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
    - gradscan facts: tf30, tf31, tf48, tf51
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
        yield from self._compiled(model)
        found = list(self._found(model))
        # a conversion of a value that another flagged conversion already made NumPy
        # (`err = np.square(np.asarray(pred) - y)`, then `np.mean(err)`) is the same cut: report
        # the first conversion on the way to the loss only
        on_paths = {id(node): call for call, trace in found for node in trace.path if node is not call}
        for call, trace in found:
            upstream = on_paths.get(id(call))
            if upstream is not None and not any(node is upstream for node in trace.path):
                continue
            yield Report(call)

    def _found(self, model: FileModel):
        """(call, trace to the loss) for each conversion the rule flags."""
        taint = model.sources.tensorflow
        for call, fn in model.calls:
            value = self._converted(model, call)
            if value is None:
                continue
            unknown = False
            if value is not call and not taint.carries(value, fn):
                # A value from a function this file cannot see (a loss closure, a library
                # loss): it is what the tape differentiates when nothing else joins it there.
                if not (tf_site(model, call) == "tape" and not _inert(model, taint, value, fn)):
                    continue
                unknown = True
            if tf_site(model, call) is None or in_data_pipeline(model, call):
                continue
            trace = reaches_loss(model, call, path_barrier(model))
            if trace is None or (unknown and (trace.sink != "loss" or not _alone_on_path(model, taint, trace))):
                continue
            if value is call and method_name(call) in ("predict", "get_weights") and _untrained_network(model, call, trace, fn):
                continue
            if value is not call and not unknown and only_untrained_networks(model, value, trace, fn):
                continue  # `target(x).numpy()`: a constant the step never needed a gradient through
            yield call, trace

    @staticmethod
    def _converted(model: FileModel, call: cst.Call) -> Optional[cst.CSTNode]:
        """The tensor a call converts to NumPy/Python (the call itself for `model.predict`)."""
        func = call.func
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
            if attr == "numpy" and not call.args:
                return func.value
            if attr == "get_weights" and not call.args and callee(model, call) is None:
                # a Keras layer's or model's weights copied out as NumPy arrays (fact tf51)
                return call
            if attr == "predict" and call.args and callee(model, call) is None:
                text = dotted(func.value) or ""
                last = text.rsplit(".", 1)[-1]
                if text == "self" and _own_predict(model, call):
                    return None
                built = model.objects.instance_class(func.value, model.enclosing_function(call))
                if text == "self" or tokens(last) & MODEL_TOKENS or (built is not None and built.is_keras):
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
        if name and call.args and name.partition(".")[0] not in LIBRARIES:
            # `utils.to_numpy(pred)`: a function of another project file that returns its
            # argument as NumPy/Python data (the project index's summary); a function of this
            # file is checked where it converts
            return model.get(Summaries).converted_argument(call)
        return None


    def _compiled(self, model: FileModel) -> Iterator[Report]:
        """NumPy on the tensors a function given to a Keras model's `compile(loss=..., metrics=...)`
        receives: `fit()` calls it on symbolic tensors and fails (fact tf48); a loss run eagerly
        (`run_eagerly=True`) gives a NumPy value with no gradient. A metric run eagerly is fine."""
        seen = set()
        keras_file = None
        for call, fn in model.calls:
            if method_name(call) != "compile" or callee(model, call) is not None:
                continue
            given = [find_argument(call, 1, "loss")]
            if not is_name(keyword_argument(call, "run_eagerly"), "True"):
                given += [find_argument(call, 2, "metrics"), keyword_argument(call, "weighted_metrics")]
            for expr in given:
                for item in function_items(expr):
                    target = function_named(model, fn, item)
                    if target is None or id(target) in seen:
                        continue
                    if keras_file is None:
                        keras_file = _uses_keras(model)
                    if not keras_file:
                        return
                    seen.add(id(target))
                    for bad in _numpy_on_arguments(model, target):
                        yield Report(bad, "NumPy in a function given to compile(): fit() passes it symbolic tensors; use tf ops")


def _untrained_network(model: FileModel, call: cst.Call, trace, fn) -> bool:
    """`net.predict(x)` in a step that does not train `net`: its NumPy output is a constant the
    step never needed a gradient through (a target network's TD target, a teacher's labels).
    Proved by the step: the tape differentiates the weights of other objects, or `net` is
    synced (`set_weights`, an EMA `assign`) or frozen; a name (`target_model`) decides only
    when the file shows neither, and never when the tape differentiates `net` itself."""
    receiver = dotted(call.func.value) or ""
    sink = trace.path[-1] if trace.sink == "loss" and trace.path else None
    trained = tf_training.network_trained(model, sink, receiver, fn) if isinstance(sink, cst.Call) else None
    if trained is not None:
        return not trained
    return tf_training.synced_or_frozen(model, receiver) or bool(tokens(receiver) & _TARGET_WORDS)


def _uses_keras(model: FileModel) -> bool:
    for call, _fn in model.calls:
        name = callee(model, call) or ""
        if name.split(".", 1)[0] in ("keras", "tensorflow", "tf_keras"):
            return True
    return False


def _numpy_on_arguments(model: FileModel, fn_node) -> Iterator[cst.Call]:
    """NumPy calls (and `.numpy()`) in a function's body applied to values computed from its
    parameters (the `y_true`, `y_pred` Keras passes)."""
    params = fn_node.params
    tainted = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)} - {"self"}
    body = fn_node.body
    for _ in range(2):  # names assigned from tainted values, in any order of the body
        for node in descendants(body):
            if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and node.value is not None:
                if mentions_name(node.value, tainted):
                    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                    for t in targets:
                        tainted.update(target_names(t))
    inside = set()  # nodes under a reported call: one finding for `np.mean(np.abs(d))`
    for node in descendants(body):
        if not isinstance(node, cst.Call) or id(node) in inside:
            continue
        name = callee(model, node) or ""
        if name.startswith("numpy.") and name not in NUMPY_METADATA:
            bad = any(mentions_name(a.value, tainted) for a in node.args)
        else:
            bad = method_name(node) == "numpy" and not node.args and mentions_name(node.func.value, tainted)
        if bad:
            inside.update(id(n) for n in descendants(node))
            yield node




def _own_predict(model: FileModel, call: cst.Call) -> bool:
    """`self.predict(...)` in a class that defines `predict` itself (or a base in this file):
    the project's own method (a beam search, a decoder loop), not Keras `Model.predict`."""
    fn = model.enclosing_function(call)
    while fn is not None and fn.cls is None:
        fn = fn.parent
    return fn is not None and model.find_method(fn.cls, "predict") is not None


_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString)


def _inert(model: FileModel, taint, expr, fn, depth: int = 2) -> bool:
    """`expr` is built only from literals, library calls and names bound (in `fn`) to such:
    no function this file cannot see and no parameter, so nothing in it can carry a gradient
    the taint does not know of."""
    for node in descendants(expr):
        if isinstance(node, cst.Call) and callee(model, node) is None:
            return False
        if isinstance(node, cst.Name):
            parent = model.parent(node)
            if isinstance(parent, cst.Attribute) and parent.attr is node:
                continue
            if isinstance(parent, (cst.Call, cst.Arg)) and (getattr(parent, "func", None) is node or getattr(parent, "keyword", None) is node):
                continue
            if model.resolve(node) is not None:
                continue  # an imported module or function
            values = taint.values(fn, node.value)
            if not values or depth <= 0:
                return False  # a parameter or a name bound elsewhere: unknown
            if not all(_inert(model, taint, v, fn, depth - 1) for v in values):
                return False
    return True


def _alone_on_path(model: FileModel, taint, trace) -> bool:
    """On its way to `tape.gradient` the converted value meets only inert operands (a scale, a
    constant): it was the loss."""
    path = trace.path
    for child, parent in zip(path, path[1:]):
        fn = model.enclosing_function(parent)
        others = []
        if isinstance(parent, cst.BinaryOperation) and child in (parent.left, parent.right):
            others = [parent.right if child is parent.left else parent.left]
        elif isinstance(parent, cst.Call) and any(a.value is child for a in parent.args):
            if method_name(parent) in ("gradient", "jacobian"):
                break
            others = [a.value for a in parent.args if a.value is not child]
        elif isinstance(parent, (cst.Tuple, cst.List)):
            others = [e.value for e in parent.elements if e.value is not child]
        if any(not _inert(model, taint, o, fn) for o in others):
            return False
    return True
