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
