from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import callee, enclosing_tape, is_name, method_name, tape_withs
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.facts import KERAS_KINDS
from gradscan.semantics.model import FileModel
from gradscan.semantics.walk import descendants, target_names

# Constructor keywords that make a Keras layer add a penalty to `layer.losses`.
_REGULARIZER_KEYWORDS = {
    "kernel_regularizer", "bias_regularizer", "activity_regularizer", "embeddings_regularizer",
    "depthwise_regularizer", "pointwise_regularizer", "recurrent_regularizer", "beta_regularizer",
    "gamma_regularizer", "alpha_regularizer",
}
# TFP layers that add their KL divergence to `layer.losses` (tfp.layers).
_TFP_LOSS_LAYERS = {
    "DenseFlipout", "DenseReparameterization", "DenseLocalReparameterization", "DenseVariational",
    "Convolution1DFlipout", "Convolution2DFlipout", "Convolution3DFlipout",
    "Convolution1DReparameterization", "Convolution2DReparameterization", "Convolution3DReparameterization",
    "KLDivergenceAddLoss",
}
_WEIGHT_LISTS = {"trainable_variables", "trainable_weights"}


class LayerLossesDropped(Rule):
    code = "GS416"
    name = "layer-losses-dropped"
    framework = "tensorflow"
    summary = "Layers add losses (`add_loss`, `kernel_regularizer=`, TFP KL layers) but the hand-written `tape.gradient` loop never adds `model.losses`: those terms never train anything"
    message = "layers add losses (`{what}`) this loss leaves out; add `tf.add_n(model.losses)`"
    explanation = (
        "Only fit() (and Keras' compute_loss) adds the layers' own losses; a GradientTape loop differentiates what it "
        "computes: add_loss terms, regularizers and TFP KL terms are silently left out."
    )
    hint = "add the layer losses inside the tape: `loss = data_loss + tf.add_n(model.losses)` (or `sum(model.losses)`)"
    facts = ("tf60",)
    triggers = ("add_loss", "regularizer", "Flipout", "Reparameterization", "DenseVariational", "KLDivergenceAddLoss")
    doc = """
    ## What it does
    Flags the loss of a hand-written training step (`tape.gradient(loss,
    model.trainable_variables)`) when the file makes layers that put terms in `layer.losses`:
    - a Keras layer or model class of the file calls `self.add_loss(...)`;
    - a layer is made with a regularizer keyword (`kernel_regularizer=`, `bias_regularizer=`,
      `activity_regularizer=`, ...) that is not `None`;
    - a TFP layer that adds its KL divergence (`tfp.layers.DenseFlipout`,
      `DenseReparameterization`, `DenseVariational`, `Convolution2DFlipout`, `KLDivergenceAddLoss`, ...);

    and the step's gradients reach `apply_gradients`/`minimize` in the same function, and
    the step does not read `.losses` (`model.losses`, `self.losses`), call Keras'
    `compute_loss`, or read a layer's regularizer itself (`layer.kernel_regularizer(layer.kernel)`):
    not in the function that takes the gradient, nor in a function of the file it calls
    (three calls deep), nor in another training step of the file (a function that calls
    `tape.gradient`: the file adds them where its loss-adding layers train). A read only in
    checks, log lines or reports does not count.
    The finding sits on the statement inside the tape that computes the differentiated loss.

    ## Why it breaks gradients
    `fit()` adds every layer's `losses` to the compiled loss; a GradientTape loop
    differentiates only what it computes. Terms added with `add_loss`, weight regularizers
    and the KL divergence of TFP's variational layers then never reach the gradient: a
    weight that only such a term trains (a learned task weighting, a Concrete-dropout rate, a
    posterior's scale) gets gradient None, and regularization silently does nothing (fact
    tf60). The TensorFlow guide's custom-loop recipe adds `sum(model.losses)` inside the tape.

    Not flagged: steps that read `.losses` (directly or in a helper they call), `compute_loss`
    (Keras adds the losses there), steps whose sources are not a model's `trainable_variables`, gradients no
    optimizer applies in the same function (a custom gradient's vector-Jacobian product with
    `output_gradients=`), and files whose layers add no losses.

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(8, kernel_regularizer="l2"), layers.Dense(1)])
    with tf.GradientTape() as tape:
        loss = mse(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        loss = mse(y, model(x)) + tf.add_n(model.losses)
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## References
    - TensorFlow guide "Writing a training loop from scratch": add `sum(model.losses)` inside the tape
    - tensorflow/tensorflow#21237, hunglc007/tensorflow-yolov4-tflite#369, yaringal/ConcreteDropout#13
    - gradscan facts: tf60
    """
    invalid = (
        """
        import keras
        import tensorflow as tf
        from keras import layers

        model = keras.Sequential([layers.Dense(8, kernel_regularizer="l2"), layers.Dense(1)])
        opt = keras.optimizers.Adam()

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))  # error: GS416
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )
    valid = (
        """
        import keras
        import tensorflow as tf
        from keras import layers

        model = keras.Sequential([layers.Dense(8, kernel_regularizer="l2"), layers.Dense(1)])
        opt = keras.optimizers.Adam()

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y)) + tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        what = _loss_adder(model)
        if what is None:
            return
        tapes = tape_withs(model)
        if not tapes:
            return
        done = set()
        for call, fn in model.calls:
            if method_name(call) != "gradient" or len(call.args) < 2:
                continue
            sources = find_argument(call, 1, "sources")
            if sources is None or not _model_weights(model, sources, fn):
                continue
            if keyword_argument(call, "output_gradients") is not None or not _applied(model, call, fn):
                continue  # a vector-Jacobian product (a custom gradient), not a training step's loss
            target = find_argument(call, 0, "target")
            site = _loss_statement(model, target, fn)
            if site is None or id(site) in done:
                continue
            if _step_reads_losses(model, call, site, fn) or _another_step_reads_losses(model):
                continue
            done.add(id(site))
            yield Report(site, self.message.format(what=what))


def _loss_adder(model: FileModel) -> Optional[str]:
    """How the file makes a layer that adds losses, or None."""
    for cls in model.class_list:
        if cls.kind not in KERAS_KINDS:
            continue
        for fn in model.functions:
            if fn.cls is cls:
                for node in descendants(fn.node.body):
                    if isinstance(node, cst.Call) and method_name(node) == "add_loss" and is_name(node.func.value, "self"):
                        return "self.add_loss"
    for call, _fn in model.calls:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in _REGULARIZER_KEYWORDS and _a_regularizer(model, arg.value):
                name = callee(model, call) or ""
                if name.split(".", 1)[0] in ("keras", "tensorflow", "tf_keras", "tensorflow_probability"):
                    return arg.keyword.value
        name = callee(model, call) or ""
        if name.startswith("tensorflow_probability.") and name.rsplit(".", 1)[-1] in _TFP_LOSS_LAYERS:
            return name.rsplit(".", 1)[-1]
    return None


def _a_regularizer(model: FileModel, value: cst.BaseExpression, depth: int = 0) -> bool:
    """`value` is evidently a regularizer: built by a call (`l2(1e-4)`), named by a string
    (`"l2"`), or a name every binding of which is one of those. A configuration's field
    (`cfg.kernel_regularizer`, None by default) or a parameter may hold None: no proof that
    the layer adds a loss."""
    if isinstance(value, (cst.Call, cst.SimpleString, cst.ConcatenatedString)):
        return True
    if isinstance(value, cst.Name) and value.value != "None" and depth < 3:
        bindings, _where = model.get(Definitions).reaching(value)
        return bool(bindings) and all(b.value is not None and _a_regularizer(model, b.value, depth + 1) for b in bindings)
    return False


def _step_reads_losses(model: FileModel, call: cst.Call, site: cst.CSTNode, fn) -> bool:
    """The step adds the layer losses: the function holding `tape.gradient` (a penalty summed
    before the tape, `self.losses` in a `train_step`), its tape block, or a function of the
    file they call (a `regularization(model)` helper, a loss helper, three calls deep) reads
    `.losses`, calls `compute_loss` or reads a layer's regularizer. A read elsewhere in the
    file (a check, a log, another step) does not add them to this loss."""
    roots = [fn.node if fn is not None else (enclosing_tape(model, site) or site)]
    seen = set()
    for _depth in range(4):
        called = []
        for root in roots:
            if id(root) in seen:
                continue
            seen.add(id(root))
            if _losses_read(model, root):
                return True
            owner = model.enclosing_function(root) if not isinstance(root, cst.FunctionDef) else next(
                (f for f in model.functions if f.node is root), None)
            for node in descendants(root):
                if isinstance(node, cst.Call):
                    target = model.objects.called_function(node, owner)
                    if target is not None and id(target.node) not in seen:
                        called.append(target.node)
        roots = called
        if not roots:
            break
    return False


def _another_step_reads_losses(model: FileModel) -> bool:
    """Some training step of the file (a function that calls `tape.gradient`, or Keras'
    `compute_loss`) reads the layer losses: the file adds them where its loss-adding layers
    are trained, and its other steps may train models that have none (a VQ-VAE trainer beside
    a GAN). A read only in checks, logs or reports is not such a step, nor is a tape whose
    gradients no optimizer applies (a check comparing gradients)."""
    for fn in model.functions:
        if fn.name == "compute_loss" or any(
                isinstance(n, cst.Call) and method_name(n) == "gradient" and _applied(model, n, fn)
                for n in descendants(fn.node.body)):
            if _losses_read(model, fn.node):
                return True
    return False


def _losses_read(model: FileModel, root: cst.CSTNode) -> bool:
    """`root` reads some `.losses`, calls `compute_loss`, or reads a layer's regularizer."""
    for node in descendants(root):
        if isinstance(node, cst.Attribute):
            if model.resolve(node) is not None:
                continue  # a module path (`keras.losses.mse`), not an object's losses
            attr = node.attr.value
            if attr in ("losses", "compute_loss", "regularization_losses", "get_regularization_loss"):
                return True
            if attr in _REGULARIZER_KEYWORDS:
                return True
    return False


def _model_weights(model: FileModel, sources, fn) -> bool:
    """The sources name a model's weight list (`model.trainable_variables`, or a name bound to it)."""
    nodes = [sources, *descendants(sources)]
    for node in list(nodes):
        if isinstance(node, cst.Name):
            found, kind = model.get(Definitions).reaching(node, fn)
            if kind in ("local", "outer") and len(found) == 1 and found[0].value is not None:
                nodes.extend([found[0].value, *descendants(found[0].value)])
    return any(isinstance(n, cst.Attribute) and n.attr.value in _WEIGHT_LISTS for n in nodes)


def _loss_statement(model: FileModel, target, fn) -> Optional[cst.CSTNode]:
    """The assignment inside a tape that binds the differentiated loss (`loss = ...`)."""
    if not isinstance(target, cst.Name):
        return None
    found, kind = model.get(Definitions).reaching(target, fn)
    if kind != "local" or len(found) != 1 or not isinstance(found[0].stmt, cst.Assign):
        return None
    stmt = found[0].stmt
    return stmt if enclosing_tape(model, stmt) is not None else None


def _applied(model: FileModel, call: cst.Call, fn) -> bool:
    """The gradients reach an optimizer update in the same function: the call sits in the
    arguments of `apply_gradients`/`minimize`, or names it binds are read there."""
    for anc in model.ancestors(call):
        if isinstance(anc, cst.Call) and method_name(anc) in ("apply_gradients", "minimize", "apply"):
            return True
    stmt = model.enclosing_statement(call)
    if not isinstance(stmt, cst.Assign) or stmt.value is not call:
        return False
    bound = {n for t in stmt.targets for n in target_names(t.target)}
    for other, owner in model.calls:
        if owner is fn and method_name(other) in ("apply_gradients", "minimize", "apply"):
            if any(isinstance(n, cst.Name) and n.value in bound for a in other.args for n in [a.value, *descendants(a.value)]):
                return True
    return False
