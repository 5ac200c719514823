from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    STOP_GRADIENT, callee, combined_with_carrier, context_root, method_name, path_barrier,
    reaches_loss, tf_site,
)
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.sources import TensorFlowSources
from gradscan.semantics.walk import mentions_name

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
    arg = find_argument(node, 0, "input") if isinstance(node, cst.Call) else None
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
    message = "tf.stop_gradient on a layer output: the weights before it never train; remove it"
    explanation = (
        "tf.stop_gradient on a value that reaches call()'s return value or the loss gives every weight before "
        "it gradient None, silently."
    )
    tape_message = "tf.stop_gradient on the model output cuts every weight from the loss; remove it"
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

    In a functional model it also flags `h = Lambda(stop_gradient)(x)` when `x` is the output of
    a layer the file creates (`layers.Dense(...)`, fresh random weights) and this is the only use
    of `x`: nothing else carries a gradient back to that layer.

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
        yield from self._functional_lambdas(model)
        taint = model.sources.tensorflow
        for call, fn in model.calls:
            if callee(model, call) not in STOP_GRADIENT or not call.args:
                continue
            site = tf_site(model, call)
            if site == "tape":
                sink = "loss"
            elif site == "call" and getattr(context_root(fn), "name", None) == "call":
                sink = "return"
            else:
                continue
            arg = find_argument(call, 0, "input")
            if arg is None or not taint.carries(arg, fn):
                continue
            if combined_with_carrier(model, taint, call, fn):
                continue
            if _intent_words_near(model, call, fn):
                continue
            trace = reaches_loss(model, call, path_barrier(model))
            if trace is None or trace.sink != sink:
                continue
            if self._meets_carrier(model, taint, trace, fn) or _shared_intent(model, call, arg, trace):
                continue
            yield Report(call, None if sink == "return" else self.tape_message)

    def _functional_lambdas(self, model: FileModel) -> Iterator[Report]:
        """Functional API: `h = Lambda(stop_gradient)(x)` where `x` is the output of a layer this
        file creates (fresh weights) and `h` is the only use of `x`: nothing reaches the layer's
        weights, so they keep their random initial values."""
        for call, fn in model.calls:
            inner = call.func
            if not isinstance(inner, cst.Call) or not (callee(model, inner) or "").endswith("layers.Lambda"):
                continue
            wrapped = find_argument(inner, 0, "function")
            if wrapped is None or not self._is_stop(model, wrapped):
                continue
            arg = find_argument(call, 0, "inputs")
            if not isinstance(arg, cst.Name):
                continue
            stmt = model.enclosing_statement(call)
            if isinstance(model.parent(stmt), cst.SimpleStatementLine):
                stmt = model.parent(stmt)
            block = model.parent(stmt)
            body = getattr(block, "body", None)
            if not isinstance(body, (list, tuple)) or stmt not in body:
                continue
            if _only_use_of_fresh_layer_output(model, list(body), body.index(stmt), arg.value):
                yield Report(call, "stop_gradient is the only path from this layer's output to the model: its weights never train")

    @staticmethod
    def _is_stop(model: FileModel, expr) -> bool:
        if isinstance(expr, cst.Lambda):
            body = expr.body
            params = [p.name.value for p in expr.params.params]
            return (isinstance(body, cst.Call) and callee(model, body) in STOP_GRADIENT and len(params) == 1
                    and bool(body.args) and isinstance(body.args[0].value, cst.Name) and body.args[0].value.value == params[0])
        return (model.resolve(expr) or "") in STOP_GRADIENT

    @staticmethod
    def _meets_carrier(model: FileModel, taint: TensorFlowSources, trace, fn) -> bool:
        """Along the way to the output the stopped value is combined with a differentiable one:
        the other side of an operator, another argument, another element of a container."""
        path = trace.path
        for child, parent in zip(path, path[1:]):
            fn = model.enclosing_function(parent)
            if isinstance(parent, cst.BinaryOperation) and child in (parent.left, parent.right):
                other = parent.right if child is parent.left else parent.left
                if taint.carries(other, fn):
                    return True
            elif isinstance(parent, cst.Call) and method_name(parent) not in ("gradient", "jacobian", "batch_jacobian") and any(a.value is child for a in parent.args):
                if any(taint.carries(a.value, fn) for a in parent.args if a.value is not child):
                    return True
            elif isinstance(parent, (cst.Tuple, cst.List)) and any(e.value is child for e in parent.elements):
                if any(taint.carries(e.value, fn) for e in parent.elements if e.value is not child):
                    return True
        return False


_NOT_WEIGHTED = {"Input", "InputLayer", "Lambda", "Activation", "Dropout", "Reshape", "Flatten", "Concatenate", "Add"}




def _rebinds(stmt, name: str) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
        return any(isinstance(t.target, cst.Name) and t.target.value == name for t in stmt.body[0].targets)
    return False


def _fresh_layer(model: FileModel, expr, statements) -> bool:
    """`expr` constructs a Keras layer with weights (`layers.Dense(8)`), or names one assigned
    so in the same block."""
    if isinstance(expr, cst.Name):
        for stmt in statements:
            if _rebinds(stmt, expr.value):
                return _fresh_layer(model, stmt.body[0].value, [])
        return False
    if not isinstance(expr, cst.Call):
        return False
    name = callee(model, expr) or ""
    parts = name.split(".")
    return len(parts) >= 3 and parts[-2] == "layers" and parts[0] in ("keras", "tensorflow", "tf_keras") and parts[-1] not in _NOT_WEIGHTED


def _only_use_of_fresh_layer_output(model: FileModel, statements, index: int, name: str) -> bool:
    """`name` was last bound, in the same block, to a call of a freshly constructed layer, and
    statement `index` is its only use until it is bound again."""
    define = None
    for i in range(index - 1, -1, -1):
        if _rebinds(statements[i], name):
            define = i
            break
        if mentions_name(statements[i], name):
            return False
    if define is None:
        return False
    value = statements[define].body[0].value
    if not isinstance(value, cst.Call) or not _fresh_layer(model, value.func, statements[:define]):
        return False
    if not _rebinds(statements[index], name):
        for stmt in statements[index + 1:]:
            if mentions_name(stmt, name):
                return False
    return True
