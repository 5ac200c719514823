from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.frameworks import names
from gradscan.frameworks import tensorflow as tf_api
from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.tensorflow.helpers import (
    callee, context_root, is_name, tf_dtype_kind,
)
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics import classes as kinds
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

# Names that say a class tracks its variables by hand (or exposes them itself).
_TRACKING_NAMES = {
    "trainable_weights", "trainable_variables", "_trainable_weights", "_trainable_variables",
    "_track_variable", "_track_variables", "_track_trackable", "weights", "variables", "_tracked",
}


def _class_tracks_by_hand(model: FileModel, cls) -> bool:
    for c in model.class_chain(cls):
        if any(name in _TRACKING_NAMES for name in c.methods):
            return True
        for node in descendants(c.node.body):
            if isinstance(node, cst.Attribute) and node.attr.value in _TRACKING_NAMES and is_name(node.value, "self"):
                return True
    return False


def _assigned_state(model: FileModel, cls, attr: str) -> bool:
    """`self.attr.assign(...)` / `assign_add` / `assign_sub` (or `self.attr[i].assign(...)` for a
    container) somewhere in the class: a state variable (a counter, a running statistic), not a
    weight."""
    for c in model.class_chain(cls):
        for node in descendants(c.node.body):
            if (
                isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in ("assign", "assign_add", "assign_sub", "scatter_update", "scatter_nd_update")
            ):
                receiver = node.func.value
                if isinstance(receiver, cst.Subscript):
                    receiver = receiver.value
                if dotted(receiver) == f"self.{attr}":
                    return True
    return False


_CONTAINERS = (cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def _untracked_calls(model: FileModel, value: cst.BaseExpression) -> Iterator[cst.Call]:
    """The untracked variable calls a `self.attr = value` stores: the value itself, or the
    elements of a list, tuple, dict or comprehension built in place (Keras 3 tracks a container
    of its own variables and layers, never a raw `tf.Variable` inside one: fact tf40)."""
    if isinstance(value, cst.Call):
        if callee(model, value) in UNTRACKED:
            yield value
        return
    if not isinstance(value, _CONTAINERS):
        return
    if isinstance(value, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
        elements = [value.elt]
    elif isinstance(value, cst.DictComp):
        elements = [value.value]
    elif isinstance(value, cst.Dict):
        elements = [e.value for e in value.elements if isinstance(e, cst.DictElement)]
    else:
        elements = [e.value for e in value.elements if isinstance(e, cst.Element)]
    for element in elements:
        yield from _untracked_calls(model, element)


def _variable_attributes(model: FileModel, cls):
    """(attr, variable call, method) for each raw variable the class stores on `self`: assigned
    directly or in a container, or appended to a container attribute (`self.vs.append(...)`)."""
    for attr, value, _node, method in cls.self_assigns:
        for call in _untracked_calls(model, value):
            yield attr, call, method
    for method in cls.methods.values():
        for node in descendants(method.node.body):
            if not (
                isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in ("append", "extend", "insert") and node.args
            ):
                continue
            owner = dotted(node.func.value) or ""
            if not owner.startswith("self.") or owner.count(".") != 1:
                continue
            for call in _untracked_calls(model, node.args[-1].value):
                yield owner[5:], call, method.name


def _variable_not_trainable(model: FileModel, call: cst.Call) -> bool:
    if is_name(keyword_argument(call, "trainable"), "False"):
        return True
    if tf_dtype_kind(model, keyword_argument(call, "dtype")) in ("int", "bool", "string"):
        return True
    init = find_argument(call, 0, "initial_value")
    if isinstance(init, (cst.Integer, cst.SimpleString)) or is_name(init, "True") or is_name(init, "False"):
        return True  # tf.Variable(0): an integer counter, never a trainable weight
    return False


UNTRACKED = names(tf_api.UNTRACKED_BY_KERAS3)


class UntrackedTfVariable(Rule):
    code = "GS401"
    name = "untracked-tf-variable"
    framework = "tensorflow"
    summary = "A raw `tf.Variable` attribute of a Keras 3 layer or model is not tracked: `fit()` never trains it"
    message = "raw tf.Variable is not tracked by Keras 3 ({why}): it never trains; use add_weight"
    explanation = (
        "Keras 3 does not track a tf.Variable stored on a layer or model: it is missing from "
        "trainable_variables, so fit() and optimizers over model.trainable_variables never update it."
    )
    hint = "use `self.add_weight(...)` or `keras.Variable(...)`"
    fix_safety = "safe"  # only offered where add_weight gives the same initial value
    facts = ("tf25", "tf40", "tf45", "tf46")
    triggers = ("Variable",)
    doc = """
    ## What it does
    Flags `self.x = tf.Variable(...)` in a Keras 3 layer or model: a class deriving from
    `keras.layers.Layer`/`keras.Model` (`import keras`, `from keras import layers`), or from
    `tf.keras.*` (`import tensorflow as tf`, `from tensorflow import keras`) when the file does
    not select legacy Keras. TF Probability's variable wrappers, `tfp.util.TransformedVariable`
    and `tfp.util.DeferredTensor`, are not tracked either (fact tf46). The same variables kept in
    a list, tuple, dict or comprehension assigned to `self.x`, or appended to one
    (`self.offsets.append(tf.Variable(0.0))`), are flagged too: Keras 3 tracks a list of its own
    variables and layers, never a raw `tf.Variable` inside it (fact tf40).

    ## Why it breaks gradients
    Keras 3 tracks only its own variables (`add_weight`, `keras.Variable`) and sub-layers. A raw
    `tf.Variable` attribute is left out of `trainable_variables`: `fit()` and any optimizer
    applied to `model.trainable_variables` never update it, silently, and it is missing from
    saved weights (facts tf25, tf40). `tape.gradient(loss, model.w)` still returns a gradient
    if asked for it directly, so the model looks fine until you notice the weight never moves.

    Keras version matters: since TensorFlow 2.16 `tf.keras` *is* Keras 3 (fact tf45). Legacy
    Keras (`tf_keras`, `TF_USE_LEGACY_KERAS=1`, TensorFlow 2.15 and earlier) does track raw
    `tf.Variable` attributes, so the rule is silent in files that import `tf_keras` or mention
    `TF_USE_LEGACY_KERAS`, in projects that declare TensorFlow below 2.16 (requirements files,
    `pyproject.toml`, `setup.py`, a notebook's `pip install`), and everywhere when the
    configuration says `keras = "legacy"`. The message says which Keras was assumed and why.
    `tf.Module` subclasses track raw variables too (fact tf40) and are never flagged.

    Not flagged: `trainable=False` variables, integer or boolean variables and variables the
    class updates with `.assign(...)` (state such as counters, not weights), variables created
    in `call()` (GS402 reports those), and classes that track variables by hand (they override
    `trainable_weights` or call `_track_variable`).

    ## Example
    ```python
    import tensorflow as tf

    class Scale(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)
            self.gamma = tf.Variable(tf.ones(3))  # never trained by fit()
    ```

    ## Use instead
    ```python
    class Scale(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)
            self.gamma = self.add_weight(shape=(3,), initializer="ones")
    ```

    ## References
    - Keras API: `keras.Variable`, `Layer.add_weight`
    - tensorflow/docs pull request 2401: the "Introduction to modules" guide's Keras layer built
      its weights with `tf.Variable` and had empty `trainable_variables` under Keras 3
    - gradscan facts: tf25, tf40, tf45
    """
    invalid = (
        """
        import tensorflow as tf

        class Scale(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = tf.keras.layers.Dense(1)
                self.gamma = tf.Variable(tf.ones(3))  # error: GS401

            def call(self, x):
                return self.dense(x * self.gamma)
        """,
        """
        import keras
        import tensorflow as tf

        class Bias(keras.layers.Layer):
            def build(self, input_shape):
                self.b = tf.Variable(tf.zeros(input_shape[-1]))  # error: GS401

            def call(self, x):
                return x + self.b
        """,
    )
    valid = (
        """
        import tensorflow as tf
        import keras

        class Scale(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.gamma = self.add_weight(shape=(3,), initializer="ones")
                self.beta = keras.Variable(tf.zeros(3))
                self.step = tf.Variable(0, trainable=False)

        class Plain(tf.Module):
            def __init__(self):
                self.w = tf.Variable(tf.ones(3))

        w = tf.Variable(tf.ones(3))
        """,
        """
        import tensorflow as tf
        import tf_keras

        class Scale(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.gamma = tf.Variable(tf.ones(3))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for cls in model.class_list:
            if cls.kind != kinds.KERAS:
                continue
            hand = None
            for attr, value, method in _variable_attributes(model, cls):
                if method == "call" or _in_call_context(cls.methods.get(method)):
                    continue  # GS402
                if _variable_not_trainable(model, value) or _assigned_state(model, cls, attr):
                    continue
                if hand is None:
                    hand = _class_tracks_by_hand(model, cls)
                if hand:
                    continue
                what = callee(model, value).rsplit(".", 1)[-1]
                if what != "Variable":  # a TF Probability wrapper: no add_weight equivalent
                    if _wraps_tracked_weight(model, cls.methods.get(method), value):
                        continue  # `DeferredTensor(self.add_weight(...), softplus)`: the weight is tracked
                    yield Report(value, self._message(model).replace("raw tf.Variable", f"tfp.util.{what}"))
                else:
                    direct = any(v is value for _a, v, _n, _m in cls.self_assigns)
                    yield Report(value, self._message(model), fix=_fix(model, value) if direct else None)

    def _message(self, model: FileModel) -> str:
        """The message, saying why Keras 3 was assumed (the project's requirements, a notebook's
        pip install, or TensorFlow >= 2.16 when nothing says)."""
        return self.message.format(why=clip(model.keras_reason or "TF >= 2.16 assumed", 36))


_INITIALIZERS = {"tensorflow.zeros": "zeros", "tensorflow.ones": "ones"}
_VARIABLE_KEEPS = {"trainable", "name", "dtype"}  # tf.Variable arguments add_weight takes as they are


def _fix(model: FileModel, value: cst.Call):
    """`self.w = tf.Variable(tf.zeros(shape), name=...)` -> `self.w = self.add_weight(shape=shape,
    initializer="zeros", name=...)`: only for initial values an initializer reproduces exactly
    (zeros, ones, a literal 0.0 or 1.0); anything else (random draws, arrays) gets no fix."""
    args = list(value.args)
    if not args or args[0].keyword is not None or args[0].star:
        return None
    init = args[0].value
    out = []
    if isinstance(init, cst.Call) and callee(model, init) in _INITIALIZERS:
        shape = [a for a in init.args if a.keyword is None or a.keyword.value == "shape"]
        dtype = [a for a in init.args if a.keyword is not None and a.keyword.value == "dtype"]
        if len(shape) != 1 or shape[0].star or len(shape) + len(dtype) != len(init.args):
            return None
        size = shape[0].value
        if isinstance(size, cst.Integer):  # tf.ones(3): add_weight needs a sequence, (3,)
            out.append(f"shape=({_code(model, size)},)")
        elif isinstance(size, (cst.List, cst.Tuple)):
            out.append(f"shape={_code(model, size)}")
        else:
            return None  # a name may hold an int or a sequence: add_weight accepts only the latter

        out.append(f'initializer="{_INITIALIZERS[callee(model, init)]}"')
        if dtype:
            out.append(f"dtype={_code(model, dtype[0].value)}")
    elif isinstance(init, (cst.Float, cst.Integer)) and init.evaluated_value in (0, 1):
        out.append("shape=()")
        out.append(f'initializer="{"zeros" if init.evaluated_value == 0 else "ones"}"')
        if isinstance(init, cst.Integer):
            return None  # tf.Variable(0) is an integer variable: not a weight to train
    else:
        return None
    for a in args[1:]:
        if a.keyword is None or a.star or a.keyword.value not in _VARIABLE_KEEPS:
            return None
        if a.keyword.value == "dtype" and any(o.startswith("dtype=") for o in out):
            return None
        out.append(f"{a.keyword.value}={_code(model, a.value)}")
    return (value, f"self.add_weight({', '.join(out)})", "Create the weight with self.add_weight(...)")


def _code(model: FileModel, node: cst.CSTNode) -> str:
    return model.module.code_for_node(node)


def _wraps_tracked_weight(model: FileModel, fn: Optional[FunctionInfo], wrapper: cst.Call) -> bool:
    """The wrapper's first argument is a variable the layer made with `self.add_weight(...)`
    (directly, or through a local name assigned once from it)."""
    if not wrapper.args or wrapper.args[0].keyword is not None:
        return False
    inner = wrapper.args[0].value
    if isinstance(inner, cst.Name) and fn is not None:
        inner = model.single_value(fn, inner.value) or inner
    func = inner.func if isinstance(inner, cst.Call) else None
    return isinstance(func, cst.Attribute) and func.attr.value == "add_weight" and is_name(func.value, "self")


def _in_call_context(fn: Optional[FunctionInfo]) -> bool:
    root = context_root(fn)
    return root is not None and root.name == "call"
