from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import is_name, method_name
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

_WEIGHT_LISTS = {"trainable_variables", "trainable_weights"}
# Methods that run before any other method of their object: a freeze there precedes every step.
_SETUP_METHODS = {"__init__", "build"}


class FrozenNetworkDifferentiated(Rule):
    code = "GS415"
    name = "frozen-network-differentiated"
    framework = "tensorflow"
    summary = "`net.trainable = False`, never set back, then `tape.gradient(loss, net.trainable_variables)`: the list is empty and `net` never trains"
    message = "`{net}` is frozen (trainable = False) before this step: its `{attr}` is empty, it never trains"
    explanation = (
        "trainable=False empties a Keras layer's or model's trainable_variables: a tape or optimizer given that "
        "list differentiates nothing (tf_keras silently; Keras 3 apply_gradients raises on the empty list)."
    )
    hint = "drop the freeze (a custom loop picks the variables it trains itself), or set `trainable = True` before this step"
    facts = ("tf59",)
    triggers = ("trainable",)
    doc = """
    ## What it does
    Flags `net.trainable_variables` (or `trainable_weights`) given to `tape.gradient(loss,
    ...)` or to `apply_gradients(zip(grads, ...))` when `net.trainable = False` runs before
    that step and the file never sets `net.trainable` to anything else:
    - the freeze is in the same function, earlier; or
    - the freeze is in `__init__`/`build` of the class whose method takes the step
      (`self.discriminator.trainable = False` then `self.discriminator.trainable_variables`
      in `train_step`); or
    - the freeze is at module level and every module-level call that leads to the step
      comes after it (or the step itself is at module level, after it).

    ## Why it breaks gradients
    Setting `trainable = False` on a Keras layer or model empties its `trainable_variables`
    (and those of every layer inside it). `tape.gradient(loss, net.trainable_variables)` then
    returns an empty list: under tf_keras `apply_gradients(zip([], []))` does nothing, silently,
    and Keras 3 raises `ValueError: not enough values to unpack` (fact tf59). The freeze comes
    from the compile-a-combined-model GAN recipe ("freeze the discriminator while the
    generator trains"), which a hand-written loop does not need: each tape already lists the
    variables it trains.

    Not flagged: freezes undone anywhere in the file (`net.trainable = True`, a flag, a
    helper that sets `trainable` on its argument), freezes after the step, freezes in other
    functions, and frozen networks only read by the loss (a perceptual-loss feature
    extractor, a teacher) whose variables are not listed.

    ## Example
    ```python
    discriminator.trainable = False
    with tf.GradientTape() as tape:
        d_loss = bce(ones, discriminator(real)) + bce(zeros, discriminator(fake))
    grads = tape.gradient(d_loss, discriminator.trainable_variables)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        d_loss = bce(ones, discriminator(real)) + bce(zeros, discriminator(fake))
    grads = tape.gradient(d_loss, discriminator.trainable_variables)
    ```

    ## References
    - Keras guide "Transfer learning & fine-tuning": `trainable = False` moves every weight to `non_trainable_weights`
    - eriklindernoren/Keras-GAN#164
    - gradscan facts: tf59
    """
    invalid = (
        """
        import tensorflow as tf
        import tf_keras as keras

        critic = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
        critic.trainable = False
        opt = keras.optimizers.Adam()

        def critic_step(real, fake):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real))
            grads = tape.gradient(loss, critic.trainable_variables)  # error: GS415
            opt.apply_gradients(zip(grads, critic.trainable_variables))

        critic_step(tf.ones((4, 2)), tf.zeros((4, 2)))
        """,
    )
    valid = (
        """
        import tensorflow as tf
        import tf_keras as keras

        critic = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
        features = keras.Sequential([keras.layers.Dense(4, input_shape=(2,))])
        features.trainable = False
        opt = keras.optimizers.Adam()

        def critic_step(real, fake):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real)) + tf.reduce_mean(features(real))
            grads = tape.gradient(loss, critic.trainable_variables)
            opt.apply_gradients(zip(grads, critic.trainable_variables))

        critic_step(tf.ones((4, 2)), tf.zeros((4, 2)))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        freezes, undone = _freezes(model)
        if not freezes:
            return
        done: Set[Tuple[int, str]] = set()  # (function, network): one finding per step
        steps = sorted(model.calls, key=lambda cf: method_name(cf[0]) != "gradient")
        for call, fn in steps:
            m = method_name(call)
            if m == "gradient":
                listed = find_argument(call, 1, "sources")
            elif m == "apply_gradients":
                pairs = find_argument(call, 0, "grads_and_vars")
                listed = pairs.args[1].value if isinstance(pairs, cst.Call) and is_name(pairs.func, "zip") and len(pairs.args) == 2 else None
            else:
                continue
            if listed is None:
                continue
            for node in _listed_nodes(model, listed, fn):
                if not isinstance(node, cst.Attribute) or node.attr.value not in _WEIGHT_LISTS:
                    continue
                net = dotted(node.value)
                if net is None or net in undone or net not in freezes or (id(fn), net) in done:
                    continue
                if any(_precedes(model, stmt, owner, call, fn) for stmt, owner in freezes[net]):
                    done.add((id(fn), net))
                    yield Report(node, self.message.format(net=net, attr=node.attr.value))
                    break


def _listed_nodes(model: FileModel, listed, fn) -> List[cst.CSTNode]:
    """The nodes of the listed expression, and of the one value a listed name is bound to
    (`c_vars = self.critic.trainable_weights` then `tape.gradient(loss, c_vars)`)."""
    out = [listed, *descendants(listed)]
    for node in list(out):
        if isinstance(node, cst.Name):
            found, kind = model.get(Definitions).reaching(node, fn)
            if kind == "local" and len(found) == 1 and found[0].value is not None and found[0].kind == "name":
                out.extend([found[0].value, *descendants(found[0].value)])
    return out


def _freezes(model: FileModel) -> Tuple[Dict[str, List[Tuple[cst.CSTNode, Optional[FunctionInfo]]]], Set[str]]:
    """`net.trainable = False` statements by the text of `net`, and the texts whose `trainable`
    the file sets to anything else; an assignment of `trainable` on a parameter or loop
    variable (a helper that flips its argument) marks every network as possibly undone."""
    freezes: Dict[str, List[Tuple[cst.CSTNode, Optional[FunctionInfo]]]] = {}
    undone: Set[str] = set()
    for node, fn in model.assignments:
        if not isinstance(node, cst.Assign):
            continue
        for t in node.targets:
            target = t.target
            if not isinstance(target, cst.Attribute) or target.attr.value != "trainable":
                continue
            text = dotted(target.value)
            if text is None:
                return {}, set()  # `layers[i].trainable = ...`: cannot tell which network
            if is_name(node.value, "False"):
                freezes.setdefault(text, []).append((node, fn))
            else:
                undone.add(text)
                root = text.split(".", 1)[0]
                if root != "self" and fn is not None and root in fn.params:
                    return {}, set()  # a helper that sets its argument's flag
    if freezes:
        for node, _fn in model.assignments:
            if isinstance(node, cst.Assign) and any(
                    isinstance(t.target, cst.Attribute) and t.target.attr.value == "trainable" for t in node.targets) \
                    and any(isinstance(a, cst.For) for a in model.ancestors(node)):
                return {}, set()  # `for layer in net.layers: layer.trainable = ...`
    return {k: v for k, v in freezes.items() if k not in undone}, undone


def _precedes(model: FileModel, stmt, owner: Optional[FunctionInfo], call: cst.Call, fn: Optional[FunctionInfo]) -> bool:
    """The freeze `stmt` (in `owner`) runs before the step `call` (in `fn`) whenever it runs."""
    order = model.flow.order
    if owner is fn:
        return order(stmt) < order(call)
    if owner is not None and owner.name in _SETUP_METHODS and owner.cls is not None:
        step = fn
        while step is not None and step.cls is None:
            step = step.parent
        return step is not None and step.cls is owner.cls and step is not owner
    if owner is None:
        sites = _module_call_sites(model, fn)
        return bool(sites) and all(order(site) > order(stmt) for site in sites)
    return False


def _module_call_sites(model: FileModel, fn: Optional[FunctionInfo], depth: int = 3) -> List[cst.CSTNode]:
    """Module-level calls that lead to `fn` (through up to `depth` functions of the file); empty
    when some path cannot be followed (a method, a callback)."""
    if fn is None or depth <= 0:
        return []
    out: List[cst.CSTNode] = []
    callers = model.objects.callers_of(fn)
    if not callers:
        return []
    for site, owner in callers:
        if owner is None:
            out.append(site)
            continue
        further = _module_call_sites(model, owner, depth - 1)
        if not further:
            return []
        out.extend(further)
    return out
