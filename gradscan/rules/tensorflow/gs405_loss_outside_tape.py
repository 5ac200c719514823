from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import enclosing_tape, tape_withs
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.contexts import is_gradient_tape
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants, target_names


def _tape_name(item: cst.WithItem) -> Optional[str]:
    if item.asname is not None and isinstance(item.asname.name, cst.Name):
        return item.asname.name.value
    if isinstance(item.item, cst.Name):
        return item.item.value
    return None


class LossOutsideTape(Rule):
    code = "GS405"
    name = "loss-outside-tape"
    framework = "tensorflow"
    summary = "The loss passed to `tape.gradient` is computed after the tape block ended: every gradient is None"
    message = "value computed after the GradientTape block gives None gradients; compute it inside"
    explanation = (
        "The tape records only what runs inside its `with` block: tape.gradient of a value computed after it "
        "returns None for every variable."
    )
    hint = "compute the loss inside the `with tf.GradientTape() as tape:` block"
    facts = ("tf32",)
    triggers = ("GradientTape",)
    doc = """
    ## What it does
    Flags the computation of the value that `tape.gradient(target, sources)` differentiates
    when it happens after the `with tf.GradientTape() as tape:` block has ended: the assignment
    `loss = ...` between the end of the block and the `gradient` call, or a computed target
    expression (`tape.gradient(loss + reg, ...)`) outside the block.

    ## Why it breaks gradients
    A tape records operations only while its `with` block is active. A loss computed after the
    block is not connected to anything the tape saw, so `tape.gradient` returns None for every
    source, silently; the next `optimizer.apply_gradients` raises "No gradients provided for
    any variable" (fact tf32). Both Keras 3 and `tf_keras` behave this way.

    Not flagged: labels and targets computed outside the tape (they are not the differentiated
    value); renaming or indexing a value computed inside (`loss = losses["total"]`); computations
    inside another tape block (nested tapes for higher-order gradients); a persistent tape whose
    gradient is asked for later, when the loss was computed inside the block.

    ## Example
    ```python
    with tf.GradientTape() as tape:
        pred = model(x)
    loss = tf.reduce_mean((pred - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        pred = model(x)
        loss = tf.reduce_mean((pred - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## References
    - TensorFlow guide "Introduction to gradients and automatic differentiation"
    - gradscan facts: tf32
    """
    invalid = (
        """
        import tensorflow as tf

        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
            loss = tf.reduce_mean((pred - y) ** 2)  # error: GS405
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def train_step(model, optimizer, x, y):
            y = tf.cast(y, tf.float32)
            with tf.GradientTape(persistent=True) as tape:
                pred = model(x, training=True)
                losses = {"total": tf.reduce_mean((pred - y) ** 2)}
            loss = losses["total"]
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        order = model.flow.order
        for call, fn in model.calls:
            func = call.func
            if not (isinstance(func, cst.Attribute) and func.attr.value in ("gradient", "jacobian", "batch_jacobian") and isinstance(func.value, cst.Name)):
                continue
            target = find_argument(call, 0, "target")
            if target is None:
                continue
            tape = func.value.value
            block = self._last_block(model, tape, fn, call)
            if block is None or self._inside(model, call, block):
                continue
            if isinstance(target, cst.Name):
                assign = self._last_assignment(model, target.value, fn, call)
                if assign is None or order(assign) < order(block) or self._inside(model, assign, block):
                    continue
                if enclosing_tape(model, assign) is not None or not _computes(model, assign.value):
                    continue
                if not self._same_block(model, assign, call):
                    continue
                yield Report(assign)
            elif _computes(model, target):
                yield Report(target)

    @staticmethod
    def _inside(model: FileModel, node: cst.CSTNode, block: cst.With) -> bool:
        return any(anc is block for anc in model.ancestors(node))

    @staticmethod
    def _last_block(model: FileModel, tape: str, fn, call: cst.Call) -> Optional[cst.With]:
        order = model.flow.order
        best = None
        for node in tape_withs(model):
            if model.enclosing_function(node) is not fn or order(node) > order(call):
                continue
            if not any(_tape_name(i) == tape for i in node.items if is_gradient_tape(model, i.item) or isinstance(i.item, cst.Name)):
                continue
            if best is None or order(node) > order(best):
                best = node
        return best

    @staticmethod
    def _last_assignment(model: FileModel, name: str, fn, call: cst.Call):
        order = model.flow.order
        best = None
        for node, owner in model.assignments:
            if owner is not fn or order(node) > order(call):
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(name in target_names(t) for t in targets):
                if best is None or order(node) > order(best):
                    best = node
        # a `for`/`with ... as name` rebinding after it defeats the analysis
        return best

    @staticmethod
    def _same_block(model: FileModel, assign: cst.CSTNode, call: cst.Call) -> bool:
        """The assignment's statement block also holds the gradient call (no branch skips it)."""
        stmt = model.enclosing_statement(assign)
        block = model.parent(model.parent(stmt)) if isinstance(stmt, cst.BaseSmallStatement) else model.parent(stmt)
        return block is not None and any(anc is block for anc in model.ancestors(call))


def _computes(model: FileModel, expr: cst.BaseExpression) -> bool:
    """The expression runs an operation (a call or arithmetic), not only a rename or lookup."""
    for node in descendants(expr):
        if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation)):
            return True
        if isinstance(node, cst.Call):
            text = dotted(node.func) or ""
            if text in ("float", "int", "len", "str", "dict", "list", "tuple"):
                continue
            return True
    return False
