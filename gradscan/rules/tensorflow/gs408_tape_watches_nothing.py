from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import is_name
from gradscan.semantics.arguments import keyword_argument
from gradscan.semantics.contexts import is_gradient_tape
from gradscan.semantics.model import FileModel, FunctionInfo


def _in_scope(model: FileModel, node: cst.CSTNode, scope: Optional[FunctionInfo], nested: bool = True) -> bool:
    fn = model.enclosing_function(node)
    if fn is scope:
        return True
    if not nested:
        return False
    while fn is not None:
        fn = fn.parent
        if fn is scope:
            return True
    return False


def _tape_uses(model: FileModel, name: str, scope: Optional[FunctionInfo]):
    """Every read of the tape name in its scope (and in functions nested in it)."""
    for node, fn in model.attributes:
        if is_name(node.value, name) and _in_scope(model, node, scope):
            yield node
    for call, fn in model.calls:
        for arg in call.args:
            if is_name(arg.value, name) and _in_scope(model, call, scope):
                yield arg


class TapeWatchesNothing(Rule):
    code = "GS408"
    name = "tape-watches-nothing"
    framework = "tensorflow"
    summary = "`GradientTape(watch_accessed_variables=False)` with no `tape.watch(...)`: every gradient is None"
    message = "tape with watch_accessed_variables=False watches nothing: every gradient is None"
    explanation = (
        "With watch_accessed_variables=False the tape records only what tape.watch() names; nothing is watched "
        "here."
    )
    hint = "call `tape.watch(var)` inside the block, or drop `watch_accessed_variables=False`"
    facts = ("tf38",)
    triggers = ("watch_accessed_variables",)
    doc = """
    ## What it does
    Flags `tf.GradientTape(watch_accessed_variables=False)` when the tape's name is never the
    receiver of a `.watch(...)` call in its function (or in functions nested in it) while its
    `gradient`/`jacobian` is asked for.

    ## Why it breaks gradients
    With `watch_accessed_variables=False` the tape records only what `tape.watch(...)` names.
    Without a `watch`, it records nothing and `tape.gradient(loss, v)` returns None for every
    source, silently (fact tf38); an optimizer then raises "No gradients provided for any
    variable".

    Not flagged: a tape that is passed to another function, stored, or returned (the watch may
    happen there), and a tape whose gradient is never computed.

    ## Example
    ```python
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        loss = tf.reduce_sum(v * v)
    grad = tape.gradient(loss, v)
    ```

    ## Use instead
    ```python
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(v)
        loss = tf.reduce_sum(v * v)
    grad = tape.gradient(loss, v)
    ```

    ## References
    - TensorFlow API: `tf.GradientTape`, `watch_accessed_variables`
    - gradscan facts: tf38
    """
    invalid = (
        """
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0])
        with tf.GradientTape(watch_accessed_variables=False) as tape:  # error: GS408
            loss = tf.reduce_sum(v * v)
        grad = tape.gradient(loss, v)
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def step(v, x):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(v)
                loss = tf.reduce_sum(v * x)
            return tape.gradient(loss, v)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, _fn in model.calls:
            if not is_name(keyword_argument(call, "watch_accessed_variables"), "False") or not is_gradient_tape(model, call):
                continue
            name = self._bound_name(model, call)
            if name is None:
                continue
            scope = model.enclosing_function(call)
            watched = False
            asked = False
            start, end = model.flow.order(call), self._next_binding(model, name, scope, call)
            for use in _tape_uses(model, name, scope):
                if not start < model.flow.order(use) < end:
                    continue  # another tape bound to the same name
                if isinstance(use, cst.Arg):
                    watched = True  # handed to another function: it may watch there
                    break
                attr = use.attr.value
                if attr == "watch":
                    watched = True
                    break
                if attr in ("gradient", "jacobian", "batch_jacobian"):
                    asked = True
            if watched or not asked or self._escapes(model, name, scope):
                continue
            yield Report(call)

    @staticmethod
    def _bound_name(model: FileModel, call: cst.Call) -> Optional[str]:
        parent = model.parent(call)
        if isinstance(parent, cst.WithItem) and parent.asname is not None and isinstance(parent.asname.name, cst.Name):
            return parent.asname.name.value
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            return parent.targets[0].target.value
        return None

    @staticmethod
    def _next_binding(model: FileModel, name: str, scope, call: cst.Call) -> float:
        order = model.flow.order
        start = order(call)
        later = [
            order(other) for other, fn in model.calls
            if fn is scope and other is not call and order(other) > start and is_gradient_tape(model, other)
            and TapeWatchesNothing._bound_name(model, other) == name
        ]
        return min(later) if later else float("inf")

    @staticmethod
    def _escapes(model: FileModel, name: str, scope) -> bool:
        """The tape is stored, returned, yielded or put in a container."""
        def bare(expr) -> bool:
            if is_name(expr, name):
                return True
            if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
                return any(bare(e.value) for e in expr.elements)
            if isinstance(expr, cst.Dict):
                return any(bare(e.value) for e in expr.elements if isinstance(e, cst.DictElement))
            return False

        for node, fn in model.assignments:
            if fn is scope and node.value is not None and bare(node.value):
                return True
        for fn in model.functions if scope is None else [scope]:
            for ret in fn.returns:
                if ret.value is not None and bare(ret.value):
                    return True
        return False
