from __future__ import annotations

from typing import Iterator, Set

import libcst as cst

from gradscan.frameworks import names
from gradscan.frameworks import tensorflow as tf_api
from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    KERAS_VARIABLE, TF_VARIABLE, callee, enclosing_tape, is_name, method_name, tape_withs,
)
from gradscan.semantics.arguments import find_argument
from gradscan.semantics import classes as kinds
from gradscan.semantics.model import FileModel
from gradscan.semantics.facts import KERAS_KINDS
from gradscan.semantics.walk import descendants

# Methods that run once, before training: a value computed there is computed once.
_ONCE = ("build", "__init__")
_FACTORIES = TF_VARIABLE | KERAS_VARIABLE | names(tf_api.UNTRACKED_BY_KERAS3)
_METADATA = {api.name for api in tf_api.NON_CARRYING_ATTRS}
_NON_CARRYING = names(tf_api.NON_CARRYING_FUNCTIONS)


class WeightDerivedOnce(Rule):
    code = "GS410"
    name = "weight-derived-once"
    framework = "tensorflow"
    summary = "A value computed from the layer's weights in `build()`/`__init__` and read in `call()`: a constant, the weights get gradient None"
    message = "computed from weights once in build()/__init__: a constant in call(), the weights get no gradient"
    explanation = (
        "An expression of variables evaluated once is a plain tensor: call() reads that constant, so the "
        "tape never sees the variables and their gradients are None."
    )
    hint = "compute the value from the weights inside `call()`"
    facts = ("tf49",)
    triggers = ("add_weight", "Variable")
    doc = """
    ## What it does
    Flags `self.x = <expression>` in `build()` or `__init__` of a Keras layer or model (Keras 3
    or legacy) or a `tf.Module`, when the expression computes with a weight of the class (an
    attribute made with `self.add_weight(...)`, `tf.Variable(...)` or `keras.Variable(...)`):
    `self.mu + self.sigma * eps`, `tf.exp(self.log_scale)`, `self.w[0]`, and `call()` (or
    any method other than `build`/`__init__`) reads `self.x` while none assigns it.

    ## Why it breaks gradients
    TensorFlow evaluates the expression when `build()` runs, once: `self.x` holds a plain
    tensor, not a link to the variables. Every later `call()` uses that constant, so the tape
    records nothing that leads back to the weights: their gradients are None (the optimizer
    warns or raises "No gradients provided") and, in a NoisyNet layer, the noise never changes
    either (fact tf49).

    In a script or training function it also flags a tensor computed from a `tf.Variable`
    outside any tape (`scale = tf.exp(log_scale)`, `tfd.Normal(loc, tf.exp(log_scale))` built
    before the loop) when that variable is listed in `tape.gradient(loss, [..])` and every
    other read of it in the file is such a computation outside a tape of the same function:
    the tape records none of them.

    Not flagged: a plain alias (`self.kernel = self.w`, still the variable), a new variable made
    from the expression (`tf.Variable(...)`), metadata (`self.w.shape[0]`), and an attribute
    that `call()` or another method assigns again.

    ## Example
    ```python
    def build(self, input_shape):
        self.mu = self.add_weight(shape=(input_shape[-1], self.units))
        self.sigma = self.add_weight(shape=(input_shape[-1], self.units))
        self.kernel = self.mu + self.sigma * tf.random.normal(self.mu.shape)

    def call(self, x):
        return x @ self.kernel
    ```

    ## Use instead
    ```python
    def call(self, x):
        kernel = self.mu + self.sigma * tf.random.normal(self.mu.shape)
        return x @ kernel
    ```

    ## References
    - tensorflow/tensorflow issue 32729: a kernel computed from weights in `build()` gets no gradient
    - gradscan facts: tf49
    """
    invalid = (
        """
        import tensorflow as tf

        class NoisyDense(tf.keras.layers.Layer):
            def build(self, input_shape):
                self.mu = self.add_weight(shape=(input_shape[-1], 2))
                self.sigma = self.add_weight(shape=(input_shape[-1], 2))
                self.kernel = self.mu + self.sigma * tf.random.normal((input_shape[-1], 2))  # error: GS410

            def call(self, x):
                return x @ self.kernel
        """,
    )
    valid = (
        """
        import tensorflow as tf

        class NoisyDense(tf.keras.layers.Layer):
            def build(self, input_shape):
                self.mu = self.add_weight(shape=(input_shape[-1], 2))
                self.sigma = self.add_weight(shape=(input_shape[-1], 2))
                self.kernel = self.mu
                self.fan_in = self.mu.shape[0]

            def call(self, x):
                kernel = self.mu + self.sigma * tf.random.normal(tf.shape(self.mu))
                return x @ kernel / self.fan_in
        """,
    )

    tape_message = "computed from {name} once, outside the tape: {name} gets gradient None; compute it inside"

    def check(self, model: FileModel) -> Iterator[Report]:
        yield from _derived_before_tape(self, model)
        for cls in model.class_list:
            if cls.kind not in KERAS_KINDS and cls.kind != kinds.TF_MODULE:
                continue
            weights = self._weights(model, cls)
            if not weights:
                continue
            later = {attr for c in model.class_chain(cls) for attr, _v, _n, m in c.self_assigns if m not in _ONCE}
            read = self._read_later(model, cls)
            for attr, value, _node, method in cls.self_assigns:
                if method not in _ONCE or attr in weights or attr in later or attr not in read:
                    continue
                if isinstance(value, (cst.Name, cst.Attribute)) or not isinstance(value, cst.BaseExpression):
                    continue  # an alias keeps the variable itself
                if isinstance(value, cst.Call) and (callee(model, value) in _FACTORIES or method_name(value) == "add_weight"):
                    continue
                if isinstance(value, cst.Call) and not self._computes(model, value):
                    continue  # a layer or object built from the weights: not a tensor
                if self._uses_weight(model, value, weights):
                    yield Report(value)

    @staticmethod
    def _weights(model: FileModel, cls) -> Set[str]:
        out = set()
        for c in model.class_chain(cls):
            for attr, value, _n, _m in c.self_assigns:
                if isinstance(value, cst.Call) and (
                    (method_name(value) == "add_weight" and is_name(value.func.value, "self"))
                    or callee(model, value) in TF_VARIABLE | KERAS_VARIABLE
                ):
                    out.add(attr)
        return out

    @staticmethod
    def _computes(model: FileModel, call: cst.Call) -> bool:
        """A TensorFlow/Keras op (`tf.exp(...)`, `keras.ops.softplus(...)`, `tf.matmul`), whose
        result is a tensor; not a layer, distribution or helper object."""
        name = callee(model, call) or ""
        head = name.split(".", 1)[0]
        return (head == "tensorflow" or name.startswith("keras.ops.")) and name[:1].islower() and \
            name.rsplit(".", 1)[-1][:1].islower()

    @staticmethod
    def _uses_weight(model: FileModel, value: cst.BaseExpression, weights: Set[str]) -> bool:
        """`self.w` for a weight `w`, read as a value (not through `.shape`, `tf.shape(...)`,
        `int(...)` or `len(...)`)."""
        todo = [value]
        while todo:
            node = todo.pop()
            if isinstance(node, cst.Attribute):
                if node.attr.value in _METADATA:
                    continue
                if is_name(node.value, "self") and node.attr.value in weights:
                    return True
            if isinstance(node, cst.Call):
                if callee(model, node) in _NON_CARRYING or (
                    isinstance(node.func, cst.Name) and node.func.value in ("int", "len", "float", "bool", "str")
                ):
                    continue
            if isinstance(node, (cst.Lambda, cst.FunctionDef)):
                continue  # evaluated later, on the variables themselves
            todo.extend(node.children)
        return False

    @staticmethod
    def _read_later(model: FileModel, cls) -> Set[str]:
        """Attributes read as `self.x` in a method other than `build`/`__init__`."""
        out = set()
        for c in model.class_chain(cls):
            for name, fn in c.methods.items():
                if name in _ONCE:
                    continue
                for node in descendants(fn.node.body):
                    if isinstance(node, cst.Attribute) and is_name(node.value, "self"):
                        out.add(node.attr.value)
        return out


def _source_names(expr) -> Set[str]:
    """Names listed as the sources of `tape.gradient(target, sources)`: `v`, `[a, b]`."""
    if isinstance(expr, cst.Name):
        return {expr.value}
    if isinstance(expr, (cst.List, cst.Tuple)):
        return {e.value.value for e in expr.elements if isinstance(e, cst.Element) and isinstance(e.value, cst.Name)}
    return set()


def _derived_before_tape(rule: "WeightDerivedOnce", model: FileModel) -> Iterator[Report]:
    """A script's variable `v = tf.Variable(...)`, listed in `tape.gradient(loss, [.., v])`,
    whose every read computes a tensor from it (`tf.exp(v)`, `v * 2`) outside any tape, in the
    scope of the tape: the tape records none of these, so `v` gets gradient None."""
    if not tape_withs(model):
        return
    taint = model.sources.tensorflow
    done = set()
    for call, fn in model.calls:
        if method_name(call) != "gradient":
            continue
        if not isinstance(call.func, cst.Attribute) or not isinstance(call.func.value, cst.Name):
            continue
        sources = find_argument(call, 1, "sources")
        for name in sorted(_source_names(sources)):
            if (id(fn), name) in done:
                continue
            done.add((id(fn), name))
            values = taint.values(fn, name)
            if not values or not all(isinstance(v, cst.Call) and callee(model, v) in TF_VARIABLE for v in values):
                continue
            derived = _only_derived_reads(model, fn, name)
            if derived:
                yield Report(derived, rule.tape_message.format(name=name))


def _only_derived_reads(model: FileModel, fn, name: str):
    """The first read of `name` if every read in the file computes a tensor from it outside
    any tape in `fn` itself (not a helper a tape may call), else None. Its binding, the
    `gradient`/`apply_gradients` arguments and logging (`.numpy()`, `print`) do not count."""
    scope = fn.node if fn is not None else model.module
    first = None
    for node in descendants(scope):
        if not isinstance(node, cst.Name) or node.value != name:
            continue
        parent = model.parent(node)
        if isinstance(parent, (cst.AssignTarget, cst.Param)) or (isinstance(parent, cst.Attribute) and parent.attr is node):
            continue
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in ("numpy", "name", "shape", "dtype"):
            continue
        if _in_gradient_bookkeeping(model, node):
            continue
        if model.enclosing_function(node) is not fn or enclosing_tape(model, node) is not None:
            return None
        if not _computes_from(model, node):
            return None
        if first is None:
            parent = model.parent(node)
            first = model.parent(parent) if isinstance(parent, cst.Arg) else parent
    return first


def _in_gradient_bookkeeping(model: FileModel, node) -> bool:
    for anc in model.ancestors(node):
        if isinstance(anc, cst.Call):
            if method_name(anc) in ("gradient", "apply_gradients", "watch") or is_name(anc.func, "print"):
                return True
        if isinstance(anc, (cst.FormattedString, cst.SimpleStatementLine, cst.FunctionDef)):
            return isinstance(anc, cst.FormattedString)
    return False


def _computes_from(model: FileModel, node) -> bool:
    """`node` is an operand of arithmetic or an argument of a TensorFlow math function: the
    result is a new tensor, evaluated where it stands."""
    parent = model.parent(node)
    if isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation)):
        return True
    if isinstance(parent, cst.Arg) and parent.value is node:
        call = model.parent(parent)
        name = callee(model, call) if isinstance(call, cst.Call) else None
        return bool(name) and name.startswith("tensorflow.") and name not in _FACTORIES and name not in _NON_CARRYING \
            and not name.startswith(("tensorflow.keras.", "tensorflow_probability."))
    return False

