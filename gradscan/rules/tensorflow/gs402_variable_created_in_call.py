from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    KERAS_VARIABLE, TF_VARIABLE, callee, context_root, is_name, top_method,
)
from gradscan.semantics.arguments import keyword_argument
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.walk import descendants

# A hint only: a flag so named guards a build-once creation when the file shows nothing of
# how it changes (`_flag_guards`).
_GUARD_WORDS = {"built", "build", "initialized", "initialised", "init", "created", "first", "ready", "exists", "none", "cache", "cached", "weights", "variables"}


def _flag_guards(model: FileModel, flag: cst.BaseExpression) -> bool:
    """A plain flag tested before a creation makes it happen once when the flag changes after
    the first call: `self.<flag>` is assigned in a method other than `__init__` (the guarded
    body's `self.pending = False`, a `build()` that sets it), or is Keras's own `self.built`.
    A flag assigned only in `__init__` is configuration (`self.first = True` never cleared):
    the creation runs on every call, whatever the flag is called. Unknown (an inherited or
    unassigned flag): its name decides."""
    text = dotted(flag)
    if not text:
        return False
    last = text.rsplit(".", 1)[-1]
    if text == "self.built":
        return True
    if text.startswith("self.") and text.count(".") == 1:
        assigned = [fn for node, fn in model.assignments if _assigns_text(node, text)]
        if assigned:
            return any(fn is not None and fn.name != "__init__" for fn in assigned)
    return bool(tokens(last) & _GUARD_WORDS)


def _assigns_text(node, text: str) -> bool:
    if isinstance(node, cst.Assign):
        return any(dotted(t.target) == text for t in node.targets)
    if isinstance(node, (cst.AnnAssign, cst.AugAssign)):
        return dotted(node.target) == text
    return False


def _is_guard_test(model: FileModel, test: cst.BaseExpression) -> bool:
    """`self.w is None`, `not self.built`, `hasattr(self, "w")`, `name not in self.vars`, ..."""
    for node in descendants(test):
        if isinstance(node, cst.Comparison):
            for target in node.comparisons:
                if isinstance(target.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)):
                    return True
                if is_name(target.comparator, "None"):
                    return True
        elif isinstance(node, cst.Call) and dotted(node.func) in ("hasattr", "getattr", "len"):
            return True
        elif isinstance(node, (cst.Name, cst.Attribute)) and not isinstance(model.parent(node), cst.Attribute):
            if _flag_guards(model, node):
                return True
    return False


def _guarded(model: FileModel, node: cst.CSTNode) -> bool:
    """Creation that happens once: under a build-once test, in `tf.init_scope()`, or after an
    early `if <guard>: return`."""
    child = node
    for anc in model.ancestors(node):
        if isinstance(anc, (cst.If, cst.While)) and child is not anc.test and _is_guard_test(model, anc.test):
            return True
        if isinstance(anc, cst.IfExp) and child is not anc.test and _is_guard_test(model, anc.test):
            return True
        if isinstance(anc, cst.With) and any("init_scope" in (model.resolve(i.item.func) or dotted(i.item.func) or "") for i in anc.items if isinstance(i.item, cst.Call)):
            return True
        if isinstance(anc, cst.Try):
            return True  # `try: return self._w except AttributeError: self._w = ...`
        if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
            # an earlier `if <guard>: return ...` in the same function
            stmt = model.enclosing_statement(node)
            body = anc.body.body if isinstance(anc, cst.FunctionDef) and isinstance(anc.body, cst.IndentedBlock) else ()
            order = model.flow.order
            for s in body:
                if order(s) >= order(stmt) and stmt is not None:
                    break
                if isinstance(s, cst.If) and _is_guard_test(model, s.test) and any(isinstance(x, cst.SimpleStatementLine) and any(isinstance(y, cst.Return) for y in x.body) for x in s.body.body if isinstance(s.body, cst.IndentedBlock)):
                    return True
            return False
        child = anc
    return False


def _creates_variable(model: FileModel, call: cst.Call) -> Optional[str]:
    name = callee(model, call)
    if name in TF_VARIABLE:
        return "tf.Variable"
    if name in KERAS_VARIABLE:
        return "keras.Variable"
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("add_weight", "add_variable") and is_name(func.value, "self"):
        return f"self.{func.attr.value}"
    return None


class VariableCreatedInCall(Rule):
    code = "GS402"
    name = "variable-created-in-call"
    framework = "tensorflow"
    summary = "A variable created in `call()` is a new, untrained variable on every call (or a ValueError under `fit()`)"
    message = "variable created in call() is new on every call; create it once in build()"
    explanation = (
        "Every call makes a new untracked variable: silent in eager mode, a ValueError under fit() or "
        "tf.function."
    )
    hint = "create the weight in `build()` with `self.add_weight(...)`, or guard it with `if self.w is None:`"
    facts = ("tf37",)
    triggers = ("Variable", "add_weight", "add_variable")
    doc = """
    ## What it does
    Flags `tf.Variable(...)`, `keras.Variable(...)`, `self.add_weight(...)` and
    `self.add_variable(...)` inside the `call()` method of a Keras layer or model, or inside a
    method `call()` calls, when nothing makes the creation happen only once.

    Also flags a training-step function (called in a loop or from several places) that
    creates a trainable `tf.Variable` in a local name and differentiates or updates it in the
    same step together with a model's weights (`tape.gradient(loss,
    model.trainable_variables + [v])`): every step trains a fresh copy from its initial value
    and the update is thrown away (a Keras 3 optimizer also rejects the new variable on the
    next step). Not flagged: a function that runs its whole optimisation loop around the
    variable (temperature scaling), and a per-call variable optimised alone (an adversarial
    perturbation, a latent inversion).

    ## Why it breaks gradients
    `call()` runs on every forward pass. In eager mode each call creates a fresh variable with
    its initial value: the weight the optimizer updated is thrown away and the layer never
    learns, silently. Under `fit()` (a `tf.function`) TensorFlow raises
    `ValueError: tf.function only supports singleton tf.Variables created on the first call`;
    Keras 3's `add_weight` in `call()` raises "You cannot add new elements of state ... to a
    layer that is already built" (fact tf37). Both Keras 3 and `tf_keras` are affected.

    Not flagged: creation in `build()` or `__init__`; creation under a build-once test
    (`if self.w is None:`, `if not self.built:`, `if not hasattr(self, "w"):`, `name not in
    self.vars`), after an early `if self.built: return`, inside `tf.init_scope()` or a `try`
    block; helper methods whose call from `call()` is itself guarded. A plain flag
    (`if self.pending:`) guards when a method other than `__init__` changes it (the guarded
    body clears it); one set only in `__init__` is configuration and guards nothing, whatever
    it is called (`self.first = True`); its name (built, initialized, first, cache) decides
    only for a flag the file never assigns. The guarded lazy-creation
    idiom is not covered by the facts (tf37 notes it untested); it is the documented way to
    create a variable once in a `tf.function`, so the rule stays silent on it.

    ## Example
    ```python
    class Scale(keras.layers.Layer):
        def call(self, x):
            self.w = tf.Variable(tf.ones(x.shape[-1]))
            return x * self.w
    ```

    ## Use instead
    ```python
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w
    ```

    ## References
    - Keras guide "Making new layers and models via subclassing": weights belong in `build()`
    - TensorFlow guide "Better performance with tf.function": creating variables once
    - gradscan facts: tf37
    """
    invalid = (
        """
        import tensorflow as tf

        class Scale(tf.keras.layers.Layer):
            def call(self, x):
                self.w = tf.Variable(tf.ones(x.shape[-1]))  # error: GS402
                return x * self.w
        """,
        """
        from keras import layers

        class Gate(layers.Layer):
            def call(self, x):
                return x * self._gate(x)

            def _gate(self, x):
                g = self.add_weight(shape=(x.shape[-1],), initializer="ones")  # error: GS402
                return g
        """,
    )
    valid = (
        """
        import tensorflow as tf

        class Scale(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.w = None

            def build(self, input_shape):
                self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros")

            def call(self, x):
                if self.w is None:
                    self.w = tf.Variable(tf.ones(x.shape[-1]))
                return x * self.w + self.b
        """,
    )

    def _per_step_variables(self, model: FileModel) -> Iterator[Report]:
        for call, fn in model.calls:
            if fn is None or (fn.cls is not None and fn.cls.is_keras) or callee(model, call) not in TF_VARIABLE | KERAS_VARIABLE:
                continue
            trainable = keyword_argument(call, "trainable")
            if trainable is not None and not is_name(trainable, "True"):
                continue
            assign = model.parent(call)
            if not isinstance(assign, cst.Assign) or len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
                continue
            name = assign.targets[0].target.value
            if _guarded(model, call) or not _trained_in_step(model, fn, call, name):
                continue
            if _called_repeatedly(model, fn):
                yield Report(call, "a trainable variable created in each training step starts afresh every step; create it once outside")

    def check(self, model: FileModel) -> Iterator[Report]:
        yield from self._per_step_variables(model)
        for call, fn in model.calls:
            if fn is None or fn.cls is None or not fn.cls.is_keras:
                continue
            if _creates_variable(model, call) is None:
                continue
            method = top_method(fn)
            if method.name in ("build", "__init__") or "build" in tokens(method.name):
                continue
            if method.name == "call":
                if not _guarded(model, call):
                    yield Report(call)
                continue
            root = context_root(method)
            if root is None or root.name != "call" or root.cls is None or not root.cls.is_keras:
                continue
            if _guarded(model, call) or _all_calls_guarded(model, method):
                continue
            yield Report(call)


def _loop_ancestors(model: FileModel, node, stop) -> list:
    out = []
    for anc in model.ancestors(node):
        if anc is stop:
            break
        if isinstance(anc, (cst.For, cst.While)):
            out.append(anc)
    return out


def _called_repeatedly(model: FileModel, fn: FunctionInfo) -> bool:
    """`fn` is called (by name, or as a method) in a loop or from more than one place."""
    sites = 0
    for call, _owner in model.calls:
        func = call.func
        named = (isinstance(func, cst.Name) and func.value == fn.name and not fn.is_method) or (
            isinstance(func, cst.Attribute) and func.attr.value == fn.name and fn.is_method)
        if named:
            sites += 1
            if _loop_ancestors(model, call, None) or sites > 1:
                return True
    return False


_STEP_METHODS = ("gradient", "apply_gradients", "minimize")


def _trained_in_step(model: FileModel, fn: FunctionInfo, creation: cst.Call, name: str) -> bool:
    """A `tape.gradient`/`apply_gradients`/`minimize` call of `fn` that names `name` and is in no
    loop that does not also repeat the creation."""
    creation_loops = _loop_ancestors(model, creation, fn.node)
    names = {name}
    joint = set()  # lists that hold the variable beside a model's persistent weights
    for node in descendants(fn.node.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        # `variables = model.trainable_variables + [v]`: the list that holds it
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            if any(isinstance(n, (cst.List, cst.Tuple)) and any(isinstance(e.value, cst.Name) and e.value.value in names for e in n.elements)
                   for n in descendants(node.value)):
                names.add(node.targets[0].target.value)
                if _names_weights(node.value):
                    joint.add(node.targets[0].target.value)
    for node in descendants(fn.node.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            continue
        if node.func.attr.value not in _STEP_METHODS:
            continue
        args = node.args[1:] if node.func.attr.value == "gradient" else node.args
        mentioned = {n.value for a in args for n in descendants(a.value) if isinstance(n, cst.Name)}
        if not mentioned & names:
            continue
        if not (mentioned & joint or any(_names_weights(a.value) for a in args)):
            continue  # only the per-call variable is optimised (an adversarial perturbation, an inversion)
        if all(loop in creation_loops for loop in _loop_ancestors(model, node, fn.node)):
            return True
    return False


def _names_weights(expr) -> bool:
    """`model.trainable_variables` (or `trainable_weights`) appears in `expr`."""
    return any(isinstance(n, cst.Attribute) and n.attr.value in ("trainable_variables", "trainable_weights")
               for n in descendants(expr))


def _all_calls_guarded(model: FileModel, method: FunctionInfo) -> bool:
    sites = [
        call for call, owner in model.calls
        if owner is not None and isinstance(call.func, cst.Attribute) and call.func.attr.value == method.name
        and is_name(call.func.value, "self")
    ]
    return bool(sites) and all(_guarded(model, c) for c in sites)
