from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    KERAS_VARIABLE, STOP_GRADIENT, TF_VARIABLE, callee, combined_with_carrier, context_root, enclosing_tape, is_name, method_name,
    path_barrier, reaches_loss, tf_site,
)
from gradscan.semantics.arguments import argument_for, find_argument
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.facts import TensorFlowSources
from gradscan.semantics import tf_training
from gradscan.semantics.walk import descendants, mentions_name

# Words that hint a stop is meant (only when the file shows nothing of what the step trains): targets, teachers, momentum encoders, GAN steps, quantizers.
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


def _shared_intent(model: FileModel, call: cst.Call, receiver: cst.BaseExpression, trace, trained: Optional[bool] = None) -> bool:
    """The look-alikes shared with the PyTorch detach rule (GS201), decided by
    `gradscan.semantics.intent`: straight-through estimators, targets and teachers, BYOL/SimSiam
    one-sided losses, GAN discriminator steps, evaluation branches, recurrent state. When the
    step is shown to train the weights behind the stop (`trained`), the look-alikes that a
    name can decide (a target value, a discriminator step) are not asked: the cut removes
    gradient the step differentiates."""
    from gradscan.semantics import intent

    if model.sources.walk.inputs_reach_otherwise(receiver) and not _producers(
            model, model.sources.tensorflow, receiver, model.enclosing_function(receiver)):
        # a helper stops its input, and every caller also sends that input to the output
        # another way (Mask R-CNN's proposals: the RPN's boxes are returned beside them);
        # not when the stopped value is a layer's output computed here (`self.trunk(x)`):
        # the input reaching the loss another way does not reach the trunk's weights
        return True
    if trained is not True:
        if intent.frozen_network(model, call, receiver, trace) and not _frozen_producer(model, receiver):
            # only names of the values fed to the stopped layers said "target" (a decoder's
            # `target_tensor`): the other look-alikes decide
            return (intent.in_evaluation_branch(model, call) or intent.gradient_asked_for_other_inputs(model, trace)
                    or intent.optional_cut(model, call, receiver) or intent.truncated_bptt(model, call, receiver)
                    or intent.left_out_of_stepped_optimizers(model, call, receiver, trace)
                    or intent.target_value(model, call, receiver, trace)
                    or intent.policy_gradient_weight(model, call, receiver, trace)
                    or intent.discriminator_step(model, call, receiver, trace)
                    or intent.combined_with_same_graph(model, call, receiver, trace, _cut_regions(model, call, trace))
                    or intent.one_side_of_loss(model, call, receiver, trace)
                    or intent.weights_reach_otherwise(model, call, receiver, trace))
        return intent.intentional_cut(model, call, receiver, trace) is not None
    return (intent.in_evaluation_branch(model, call) or intent.optional_cut(model, call, receiver)
            or intent.combined_with_same_graph(model, call, receiver, trace, _cut_regions(model, call, trace))
            or intent.one_side_of_loss(model, call, receiver, trace)
            or intent.weights_reach_otherwise(model, call, receiver, trace))


def _frozen_producer(model: FileModel, receiver) -> bool:
    """A network called in the stopped expression is a teacher, target or frozen copy by what
    the file does to it (`set_weights`, an EMA `assign`, `trainable = False`) or by its own
    name (`self.teacher(x)`); True as well when the expression calls no network (the names
    around it decide)."""
    from gradscan.semantics import intent

    taint, fn = model.sources.tensorflow, model.enclosing_function(receiver)
    producers = {dotted(n.func) for n in [receiver, *descendants(receiver)]
                 if isinstance(n, cst.Call) and callee(model, n) is None and dotted(n.func) not in (None, "self")
                 and taint.carries(n, fn)}
    if not producers:
        return True
    return any(tokens(p.rsplit(".", 1)[-1]) & intent.FROZEN_TOKENS or tf_training.synced_or_frozen(model, p)
               for p in producers)


def _cut_regions(model: FileModel, call: cst.Call, trace) -> tuple:
    """Where the stopped value is bound: the stop's statement and, when a method returns the
    stopped value whole (`return tf.stop_gradient(self.trunk(x))`), the call site that binds its
    result (`h = self.encode(x)` in `call()`). Values computed from `h` (a second head's
    output) come from the cut, not from another differentiable value of the same graph."""
    regions = [model.enclosing_statement(call)]
    cut_fn = model.enclosing_function(call)
    if cut_fn is None or trace is None or any(
            isinstance(getattr(r, "value", None), (cst.Tuple, cst.List, cst.Dict)) for r in cut_fn.returns):
        return tuple(regions)
    for node in trace.path[1:]:
        owner = model.enclosing_function(node)
        if owner is cut_fn:
            continue
        stmt = model.enclosing_statement(node)
        if isinstance(node, cst.Call) and isinstance(stmt, cst.Assign) and stmt.value is node and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0].target, cst.Name) and model.objects.called_function(node, owner) is cut_fn:
            regions.append(stmt)
        break
    return tuple(regions)


def _producers(model: FileModel, taint: TensorFlowSources, expr, fn, depth: int = 3) -> Optional[set]:
    """The objects (dotted text) whose calls compute `expr`: `gen(z)`, `self.generator(z)`,
    `fake = gen(z)` then `fake`; None when none is found."""
    out: set = set()
    for node in [expr, *descendants(expr)]:
        if isinstance(node, cst.Call) and callee(model, node) is None:
            text = dotted(node.func)
            if text and text != "self" and taint.carries(node, fn):
                out.add(text)
        elif isinstance(node, cst.Name) and depth > 0 and model.parent(node) is not None \
                and not (isinstance(model.parent(node), cst.Call) and model.parent(node).func is node):
            values = taint.values(fn, node.value)
            if values and any(taint.carries(v, fn) for v in values):
                for v in values:
                    found = _producers(model, taint, v, fn, depth - 1)
                    if found is None:
                        return None
                    out |= found
    return out or None


def _cut_network_trained(model: FileModel, taint: TensorFlowSources, call: cst.Call, arg, fn, site) -> Optional[bool]:
    """Whether the step the stop sits in trains the weights the stop cuts off. In a tape: the
    networks that computed the stopped value against what its `tape.gradient` differentiates
    (a discriminator step's `D(stop_gradient(G(z)))` differentiates D only). In a layer's
    `call()`: whether a tape of this file differentiates an instance of the layer (or of a
    model holding it), or every instance is synced (`set_weights`, an EMA `assign`) or
    frozen. None when the file shows neither."""
    if site == "call":
        owner = fn
        while owner is not None and owner.parent is not None:
            owner = owner.parent
        if owner is None or owner.cls is None:
            return None
        verdict = tf_training.class_trained(model, owner.cls)
        if verdict is False and _sublayer_differentiated(model, taint, owner.cls, arg, fn):
            return True
        return verdict
    trace = reaches_loss(model, call, path_barrier(model))
    if trace is None or trace.sink != "loss" or not trace.path or not isinstance(trace.path[-1], cst.Call):
        return None
    producers = _producers(model, taint, arg, fn)
    if not producers:
        return None
    verdicts = [tf_training.network_trained(model, trace.path[-1], p, fn) for p in producers]
    if any(v is True for v in verdicts):
        return True
    if all(v is False for v in verdicts):
        return False
    return None


def _sublayer_differentiated(model: FileModel, taint: TensorFlowSources, cls, arg, fn) -> bool:
    """A tape of this file differentiates the weight list of the very sub-layer whose output is
    stopped, taken from an instance of `cls` (`tape.gradient(loss, model.trunk.trainable_variables)`
    with `tf.stop_gradient(self.trunk(x))` in the class): the step trains what the stop cuts. A
    list of another sub-layer only (a linear probe's `model.head`) is not."""
    producers = _producers(model, taint, arg, fn) or set()
    subs = {p[len("self."):] for p in producers if p.startswith("self.")}
    if not subs:
        return False
    names = tf_training.instances(model, cls)
    wanted = {f"{n}.{s}" for n in names for s in subs}
    for call, _fn in model.calls:
        if tf_training.gradient_sources(call) is None:
            continue
        owners = tf_training.differentiated_owners(model, call) or set()
        if owners & wanted:
            return True
    return False


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
    helper_message = "this helper's tf.stop_gradient reaches a step that trains {network}: it gets no gradient; stop at the call"
    lone_message = "tf.stop_gradient on the only output of self.{layer}: its weights never train; remove it"
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

    It also flags `tf.stop_gradient(self.layer(...))` in `call()` whatever the stopped value is
    then combined with (a residual's projection shortcut, a normalisation before the skip
    sum), when `self.layer` is a Keras layer with weights and this is the file's only use of
    it: nothing else reaches that layer. The layer called again elsewhere, frozen
    (`trainable=False`, `.trainable = ...`), its weights updated by hand (an EMA), a flag that
    chooses the stop, an evaluation branch or a target/teacher network keep it silent.
    Values computed from the stopped value itself (a head's logits returned beside its
    softmax) do not count as another differentiable value.

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
    is combined with another differentiable value, or is passed as a loss target. What the
    step trains decides before names: in a tape, a stop on the output of networks the
    `tape.gradient` does not differentiate is a discriminator's or critic's step (silent),
    and one on a network it does differentiate is a cut whatever the names say; in a layer's
    `call()`, a layer no tape of the file trains (its instances synced by `set_weights` or an
    EMA `assign`, frozen, or only other objects differentiated) is silent, and one a tape
    trains (directly, inside a model, or through the weight list of the very sub-layer that
    is stopped: `tape.gradient(loss, net.trunk.trainable_variables)`) is flagged even when
    called a quantizer. A method `call()` uses that returns the stopped output whole
    (`h = self.encode(x)`) makes `h` the cut value: heads computed from `h` are not another
    differentiable value. Only when
    the file shows neither do the names around the stop (function, class, variable: target,
    teacher, ema, frozen, quantize, gan) keep it silent; a teacher or target network is then
    told by the stopped network's own name (`self.teacher(x)`), not by the names of the
    values fed to it (a decoder block's `target_tensor`).
    A helper that returns a stopped network output (`return tf.stop_gradient(self.generator(z))`)
    is followed to its call sites in tape blocks: it is flagged when one of them reaches the
    loss of a `tape.gradient` that differentiates that network's weights with nothing
    differentiable combined on the way (a GAN's generator step reusing the discriminator
    step's fakes); call sites whose tape trains other networks only (the discriminator step)
    are the intended use.
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

        def features(net, x):
            return tf.stop_gradient(net(x))  # error: GS406

        def step(net, head, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((head(features(net, x)) - y) ** 2)
            return tape.gradient(loss, net.trainable_variables + head.trainable_variables)
        """,
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
            elif site == "helper":
                yield from self._returned_stop(model, taint, call, fn)
                continue
            else:
                continue
            arg = find_argument(call, 0, "input")
            if arg is None or not taint.carries(arg, fn):
                continue
            # What the step trains decides; the names around the stop only when it shows nothing.
            trained = _cut_network_trained(model, taint, call, arg, fn, site)
            if trained is False:
                continue
            if trained is None and _intent_words_near(model, call, fn):
                continue
            if sink == "return" and _lone_layer_output(model, taint, arg, fn):
                # Whatever the stopped value is combined with, nothing else reaches this layer.
                if not _configured_or_frozen(model, call, arg):
                    trace = reaches_loss(model, call, path_barrier(model))
                    if trace is not None and trace.sink == sink:
                        yield Report(call, self.lone_message.format(layer=arg.func.attr.value))
                continue
            if combined_with_carrier(model, taint, call, fn):
                continue
            trace = reaches_loss(model, call, path_barrier(model))
            if trace is None or trace.sink != sink:
                continue
            if self._meets_carrier(model, taint, trace, fn) or _shared_intent(model, call, arg, trace, trained):
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

    def _returned_stop(self, model: FileModel, taint: TensorFlowSources, call: cst.Call, fn) -> Iterator[Report]:
        """`return tf.stop_gradient(self.net(z))` in a helper: flagged when a call site inside a
        tape block reaches the loss of a `tape.gradient` that differentiates `self.net`, the
        stopped value meeting no other differentiable value on the way."""
        from gradscan.semantics import intent

        arg = find_argument(call, 0, "input")
        if fn is None or arg is None or not taint.carries(arg, fn) or not _returned(model, call, fn):
            return
        producers = _producers(model, taint, arg, fn)
        if not producers:
            return
        for site_call, owner in model.objects.callers_of(fn)[:8]:
            if enclosing_tape(model, site_call) is None or intent.in_evaluation_branch(model, site_call):
                continue
            trace = reaches_loss(model, site_call, path_barrier(model))
            if trace is None or trace.sink != "loss" or not trace.path or not isinstance(trace.path[-1], cst.Call):
                continue
            seen = [_as_seen_by(model, fn, p, site_call, owner) for p in sorted(producers)]
            if any(p is None for p in seen):
                continue  # a network the call site does not name
            trained = [p for p in seen if tf_training.network_trained(model, trace.path[-1], p, owner) is True]
            if not trained:
                continue
            if combined_with_carrier(model, taint, site_call, owner) or self._meets_carrier(model, taint, trace, owner):
                continue
            yield Report(call, self.helper_message.format(network=trained[0]))
            return

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
        derived: set = set()  # names the stopped value was bound to on its way: not another carrier

        def live(expr, fn) -> bool:
            return taint.carries(expr, fn, seen=set(derived))

        for child, parent in zip(path, path[1:]):
            if isinstance(child, cst.Name):
                derived.add(child.value)
            fn = model.enclosing_function(parent)
            if isinstance(parent, cst.BinaryOperation) and child in (parent.left, parent.right):
                other = parent.right if child is parent.left else parent.left
                if live(other, fn):
                    return True
            elif isinstance(parent, cst.Call) and method_name(parent) not in ("gradient", "jacobian", "batch_jacobian") and any(a.value is child for a in parent.args):
                if any(live(a.value, fn) for a in parent.args if a.value is not child):
                    return True
            elif isinstance(parent, (cst.Tuple, cst.List)) and any(e.value is child for e in parent.elements):
                if any(live(e.value, fn) for e in parent.elements if e.value is not child):
                    return True
        return False


_NOT_WEIGHTED = {"Input", "InputLayer", "Lambda", "Activation", "Dropout", "Reshape", "Flatten", "Concatenate", "Add"}
# Keras layers without trainable weights: stopping their output cuts nothing of their own.
_WEIGHTLESS_WORDS = ("Pool", "Dropout", "Activation", "ReLU", "Softmax", "Flatten", "Reshape", "Lambda",
                     "Identity", "Permute", "Cropping", "Padding", "UpSampling", "Rescaling", "Resizing",
                     "Concatenate", "Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot",
                     "Masking", "Noise", "RepeatVector", "Input")


def _has_weights(model: FileModel, taint: TensorFlowSources, value: cst.Call, depth: int = 3) -> bool:
    """The layer `value` constructs has trainable weights. A library layer by its resolved
    class (`keras.layers.MaxPooling2D` has none); a class of this file by what it builds: a
    weight (`add_weight`, `tf.Variable`) or a sub-layer that has weights (an `AddProjection`
    holding a `Dense` has weights whatever it is called). A class whose body shows neither
    (its layers built in a base from another file) is judged by its name."""
    resolved = callee(model, value)
    text = resolved or dotted(value.func) or ""
    last = text.rsplit(".", 1)[-1]
    local = model.classes.get(last) if resolved is None else None
    if local is not None and depth > 0:
        for cls in model.class_chain(local):
            for _attr, sub, _node, _method in cls.self_assigns:
                if not isinstance(sub, cst.Call):
                    continue
                made = callee(model, sub)
                if made in TF_VARIABLE | KERAS_VARIABLE or method_name(sub) in ("add_weight", "add_variable"):
                    if not is_name(find_argument(sub, None, "trainable"), "False"):
                        return True
                elif made is not None and ".layers." in f".{made}" or made is None and (dotted(sub.func) or "") in model.classes:
                    if _has_weights(model, taint, sub, depth - 1):
                        return True
        if all(_framework_or_local(base) for cls in model.class_chain(local) for base in cls.base_names):
            return False  # its whole body is here and builds nothing with weights
    return not any(word in last for word in _WEIGHTLESS_WORDS)


def _framework_or_local(base: str) -> bool:
    """A base class whose weights the file shows: one of its own, or Keras's `Layer`/`Model`."""
    return base.startswith("<local>.") or base.rsplit(".", 1)[-1] in ("Layer", "Model") and base.split(".", 1)[0] in (
        "keras", "tensorflow", "tf_keras")


def _lone_layer_output(model: FileModel, taint: TensorFlowSources, arg, fn: Optional[FunctionInfo]) -> bool:
    """`arg` is `self.<layer>(...)`, a Keras layer with trainable weights built in this class,
    and this call is the file's only use of `self.<layer>` besides binding it: the stop is
    then the layer's only way to the loss, so its weights get no gradient whatever the stopped
    value is combined with (a residual's projection, a normalisation before a skip sum)."""
    if not isinstance(arg, cst.Call) or not isinstance(arg.func, cst.Attribute) or not is_name(arg.func.value, "self"):
        return False
    if fn is None or fn.cls is None:
        return False
    attr = arg.func.attr.value
    built = taint.layer_constructors(fn, attr)
    if not built:
        return False
    for value in built:
        if not _has_weights(model, taint, value):
            return False
        trainable = find_argument(value, None, "trainable")
        if trainable is not None and not is_name(trainable, "True"):
            return False
    family = {id(c) for c in model.class_chain(fn.cls)}
    for node, owner in model.attributes:
        if node.attr.value != attr or node is arg.func:
            continue
        if is_name(node.value, "self") and owner is not None and owner.cls is not None and owner.cls is not fn.cls:
            if id(owner.cls) not in family and id(fn.cls) not in {id(c) for c in model.class_chain(owner.cls)}:
                continue  # another class's own layer of the same name
        if _binds_self_attr(model, node) or _reads_one_weight(model, node):
            continue
        if isinstance(model.parent(node), cst.Comparison):
            continue  # `if self.proj is not None:` (an optional sub-layer)
        return False  # used elsewhere: called again, frozen, copied, updated by an EMA
    return True


# Attributes naming one weight of a layer: reading one (`net.proj.kernel.numpy()`) neither
# trains nor updates the layer.
_ONE_WEIGHT = {"kernel", "bias", "gamma", "beta", "embeddings", "recurrent_kernel", "depthwise_kernel"}


def _reads_one_weight(model: FileModel, node: cst.Attribute) -> bool:
    """`node` is `<obj>.<layer>` in `<obj>.<layer>.kernel` that is only read: not assigned, not
    the receiver of a method other than `numpy()` (`.assign(...)` is an update)."""
    outer = model.parent(node)
    if not isinstance(outer, cst.Attribute) or outer.value is not node or outer.attr.value not in _ONE_WEIGHT:
        return False
    above = model.parent(outer)
    if isinstance(above, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign)):
        return False
    if isinstance(above, cst.Attribute) and above.value is outer:
        call = model.parent(above)
        return above.attr.value == "numpy" and isinstance(call, cst.Call) and call.func is above
    return True


def _binds_self_attr(model: FileModel, node: cst.Attribute) -> bool:
    """`node` is the target of `self.x = ...`."""
    if not is_name(node.value, "self"):
        return False
    parent = model.parent(node)
    return isinstance(parent, cst.AssignTarget) or (isinstance(parent, (cst.AnnAssign, cst.AugAssign)) and parent.target is node)


def _configured_or_frozen(model: FileModel, call: cst.Call, arg) -> bool:
    """The look-alikes no operand decides: an evaluation branch, a stop chosen by a flag (the
    other branch keeps the graph), a layer named as a teacher or target copy."""
    from gradscan.semantics import intent

    if intent.in_evaluation_branch(model, call) or intent.optional_cut(model, call, arg):
        return True
    # `arg` is `self.<layer>(...)`, a trainable layer built here and used nowhere else: only
    # that layer's own name can hint a teacher or target copy, not the names of the values
    # fed to it (a decoder's `target_tensor`)
    return bool(tokens(arg.func.attr.value) & intent.FROZEN_TOKENS)




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


def _as_seen_by(model: FileModel, fn: FunctionInfo, network: str, site_call: cst.Call, owner) -> Optional[str]:
    """The helper's `network` (dotted text) as the call site's scope names it: a parameter
    becomes the argument passed (`encoder(x)` in `frozen(enc, x)` is `enc`), `self.x` stays
    when the caller is a method of the same class; None when it cannot be told."""
    root, _, rest = network.partition(".")
    if root == "self":
        return network if owner is not None and owner.cls is not None and owner.cls is fn.cls else None
    if root in fn.params:
        arg = argument_for(fn, site_call, root)
        text = dotted(arg) if arg is not None else None
        return None if text is None else (text + "." + rest if rest else text)
    return network


def _returned(model: FileModel, call: cst.Call, fn: FunctionInfo) -> bool:
    """`call` is what `fn` returns: `return tf.stop_gradient(...)`, or a name bound to it and
    returned."""
    stmt = model.enclosing_statement(call)
    if isinstance(stmt, cst.Return):
        return stmt.value is call
    if isinstance(stmt, cst.Assign) and stmt.value is call and len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Name):
        name = stmt.targets[0].target.value
        return any(isinstance(r, cst.Return) and is_name(r.value, name) for r in fn.returns)
    return False
