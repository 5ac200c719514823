from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import is_name, method_name
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted

# Attributes that list a layer's or model's trainable variables.
_VARIABLE_LISTS = ("trainable_variables", "trainable_weights")


def _bound_value(model: FileModel, name: str, before: cst.CSTNode) -> Optional[cst.BaseExpression]:
    """The value `name` was last assigned (a single-name target) before `before`, in the same
    function; None when it is not assigned so there, or is assigned more than once."""
    fn = model.enclosing_function(before)
    found = []
    for node, owner in model.assignments:
        if owner is not fn or not isinstance(node, cst.Assign) or len(node.targets) != 1:
            continue
        if is_name(node.targets[0].target, name) and model.flow.order(node) < model.flow.order(before):
            found.append(node)
    return found[0].value if len(found) == 1 else None


def _owner(model: FileModel, expr, at: cst.CSTNode) -> Optional[str]:
    """`net` for `net.trainable_variables` (or a name bound to it), else None."""
    if isinstance(expr, cst.Name):
        expr = _bound_value(model, expr.value, at)
    if isinstance(expr, cst.Attribute) and expr.attr.value in _VARIABLE_LISTS:
        return dotted(expr.value)
    return None


def _gradient_sources(model: FileModel, grads, at: cst.CSTNode) -> Optional[cst.BaseExpression]:
    """The `sources` of the `tape.gradient(target, sources)` that gave `grads`."""
    if isinstance(grads, cst.Name):
        grads = _bound_value(model, grads.value, at)
    if isinstance(grads, cst.Call) and method_name(grads) == "gradient" and len(grads.args) >= 2:
        return grads.args[1].value
    return None


class GradientsAppliedToOtherVariables(Rule):
    code = "GS411"
    name = "gradients-applied-to-other-variables"
    framework = "tensorflow"
    summary = "`apply_gradients(zip(grads, b.trainable_variables))` with grads taken for `a.trainable_variables`: `a` never trains"
    message = "gradients of {src}'s variables are applied to {dst}'s: {src} never trains"
    explanation = (
        "apply_gradients pairs each gradient with the variable zipped beside it: gradients computed for one "
        "model and zipped with another model's variables update the wrong model."
    )
    hint = "zip the gradients with the same variable list given to `tape.gradient`"
    facts = ("tf50",)
    triggers = ("apply_gradients",)
    doc = """
    ## What it does
    Flags `optimizer.apply_gradients(zip(grads, b.trainable_variables))` when `grads` is
    `tape.gradient(loss, a.trainable_variables)` (directly, or through names assigned once in
    the same function) and `a` and `b` are different models or layers written the same way
    (`self.q_net` and `self.target_net`, `generator` and `discriminator`).

    ## Why it breaks gradients
    `apply_gradients` updates each variable with the gradient zipped beside it. Gradients
    computed for `a` and zipped with `b`'s variables move `b` (when the shapes match, as for a
    network and its target copy) and leave `a` unchanged, with no error and no warning (fact
    tf50). When the shapes differ the update fails at once.

    Not flagged: the same variable list on both sides, lists whose owner gradscan cannot name,
    and owners spelled differently (`model` and `self.model` may be the same object).

    ## Example
    ```python
    grads = tape.gradient(loss, q_net.trainable_variables)
    optimizer.apply_gradients(zip(grads, target_net.trainable_variables))
    ```

    ## Use instead
    ```python
    grads = tape.gradient(loss, q_net.trainable_variables)
    optimizer.apply_gradients(zip(grads, q_net.trainable_variables))
    ```

    ## References
    - TensorFlow API: `tf.GradientTape.gradient`, `Optimizer.apply_gradients`
    - gradscan facts: tf50
    """
    invalid = (
        """
        import tensorflow as tf

        def update(q_net, target_net, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(q_net(x) - y))
            grads = tape.gradient(loss, q_net.trainable_variables)
            optimizer.apply_gradients(zip(grads, target_net.trainable_variables))  # error: GS411
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def update(q_net, target_net, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(q_net(x) - y))
            params = q_net.trainable_variables
            grads = tape.gradient(loss, params)
            optimizer.apply_gradients(zip(grads, params))
            for t, s in zip(target_net.trainable_variables, q_net.trainable_variables):
                t.assign(0.9 * t + 0.1 * s)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, _fn in model.calls:
            if method_name(call) != "apply_gradients" or not call.args:
                continue
            pairs = call.args[0].value
            if not (isinstance(pairs, cst.Call) and is_name(pairs.func, "zip") and len(pairs.args) == 2):
                continue
            grads, variables = pairs.args[0].value, pairs.args[1].value
            sources = _gradient_sources(model, grads, call)
            if sources is None:
                continue
            src, dst = _owner(model, sources, call), _owner(model, variables, call)
            if src is None or dst is None or src == dst:
                continue
            if src.startswith("self.") != dst.startswith("self.") or src.count(".") != dst.count("."):
                continue  # `model` and `self.model` may name one object
            yield Report(call, self.message.format(src=src, dst=dst))
