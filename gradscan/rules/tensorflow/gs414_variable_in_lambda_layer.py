from __future__ import annotations

from typing import Iterator, Set

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    KERAS_VARIABLE,
    TF_VARIABLE,
    callee,
    function_named,
    is_name,
    listed_sources,
    method_name,
)
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.model import FileModel
from gradscan.semantics.walk import descendants

# What makes the file a training file: something is differentiated or fitted.
_TRAINS = {"gradient", "apply_gradients", "minimize", "fit", "train_on_batch"}
_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")


class VariableInLambdaLayer(Rule):
    code = "GS414"
    name = "variable-in-lambda-layer"
    framework = "tensorflow"
    summary = "A Keras `Lambda` layer's function reads a variable or calls a layer made outside it: no layer tracks those weights, `fit()` never trains them"
    message = "`{name}` in a Lambda layer's function is tracked by no layer: never trained; use a Layer"
    explanation = (
        "A Lambda layer owns no weights: a variable (or a layer) its function closes over is not in the model's "
        "trainable_variables, so fit() and tape.gradient over them never update it."
    )
    hint = "write a small `keras.layers.Layer` subclass that creates the weight with `self.add_weight` (or owns the sublayer) and use it instead of the Lambda"
    facts = ("tf58",)
    triggers = ("Lambda",)
    doc = """
    ## What it does
    Flags the function given to a Keras `Lambda` layer (`keras.layers.Lambda`,
    `tf.keras.layers.Lambda`, `tf_keras.layers.Lambda`; a `lambda` or a function of the file)
    when its body reads, from outside the function:
    - a trainable variable (`tf.Variable(...)`, `keras.Variable(...)`, not `trainable=False`),
      unless the file lists that variable itself to `tape.gradient`, `apply_gradients` or
      `minimize`; or
    - a Keras layer object that it calls (`Lambda(lambda t: proj(t))` with
      `proj = layers.Dense(8)`), when the file calls that layer nowhere outside Lambda
      functions (a layer also applied in the functional graph is tracked there);

    in a file that trains (`fit`, `train_on_batch`, `tape.gradient`, `apply_gradients`,
    `minimize`).

    ## Why it breaks gradients
    A `Lambda` layer is stateless: Keras tracks no variable its function closes over, in
    Keras 3 and in tf_keras (tf_keras only logs "The following Variables were used in a
    Lambda layer's call ..., but are not present in its tracked objects"). The model's
    `trainable_variables` leave them out, so `fit()` (and a custom loop over
    `model.trainable_variables`) never updates them: a learned scale, temperature or
    projection keeps its initial value, silently (fact tf58).

    Not flagged: constants and Python numbers in the function, variables made with
    `trainable=False`, variables the file gives to the tape or optimizer itself, layers that
    are also applied outside a Lambda, and files that never train.

    ## Example
    ```python
    scale = keras.Variable(1.0)
    inputs = keras.Input((4,))
    logits = layers.Dense(3)(inputs)
    outputs = layers.Lambda(lambda t: t * scale)(logits)
    ```

    ## Use instead
    ```python
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones")

        def call(self, x):
            return x * self.scale

    outputs = Scale()(logits)
    ```

    ## References
    - Keras API: `keras.layers.Lambda` ("Lambda layers are best suited for simple operations"; variables must live in a Layer subclass)
    - tensorflow/tensorflow#48535, philipperemy/keras-tcn#209
    - gradscan facts: tf58
    """
    invalid = (
        """
        import keras
        import numpy as np
        from keras import layers

        scale = keras.Variable(1.0)
        inputs = keras.Input((4,))
        logits = layers.Dense(3)(inputs)
        outputs = layers.Lambda(lambda t: t * scale)(logits)  # error: GS414
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.ones((8, 4)), np.ones((8, 3)), verbose=0)
        """,
    )
    valid = (
        """
        import keras
        import numpy as np
        from keras import layers

        TEMPERATURE = 0.5
        inputs = keras.Input((4,))
        logits = layers.Dense(3)(inputs)
        outputs = layers.Lambda(lambda t: t / TEMPERATURE)(logits)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.ones((8, 4)), np.ones((8, 3)), verbose=0)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        lambdas = []
        for call, fn in model.calls:
            name = callee(model, call) or ""
            if name.rsplit(".", 1)[-1] != "Lambda" or name.split(".", 1)[0] not in _KERAS_ROOTS:
                continue
            given = find_argument(call, 0, "function")
            body = function_named(model, fn, given) if given is not None else None
            if body is not None:
                lambdas.append((given, body))
        if not lambdas or not any(method_name(call) in _TRAINS for call, _fn in model.calls):
            return
        inside = {id(n) for _given, body in lambdas for n in descendants(body)}
        listed = listed_sources(model)
        defs = model.get(Definitions)
        for given, body in lambdas:
            for use in _free_names(model, body):
                if use.value in listed:
                    continue
                bindings, kind = defs.reaching(use)
                if kind not in ("outer", "local") or len(bindings) != 1 or bindings[0].value is None:
                    continue
                value = bindings[0].value
                if _trainable_variable(model, value) or (
                        _called(model, use) and _keras_layer(model, value) and not _called_outside(model, use.value, inside)):
                    yield Report(given, self.message.format(name=use.value))
                    break


def _free_names(model: FileModel, body) -> Iterator[cst.Name]:
    """Names a function's body reads that it does not bind (its parameters excluded)."""
    params = body.params
    own: Set[str] = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            own.add(star.name.value)
    inner = body.body
    for node in descendants(inner):
        if isinstance(node, (cst.AssignTarget, cst.Param)):
            own.update(n.value for n in descendants(node) if isinstance(n, cst.Name))
    for node in descendants(inner):
        if not isinstance(node, cst.Name) or node.value in own:
            continue
        parent = model.parent(node)
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            continue
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            continue
        if model.resolve(node) is not None:
            continue  # a module or an imported function
        yield node


def _called(model: FileModel, use: cst.Name) -> bool:
    parent = model.parent(use)
    return isinstance(parent, cst.Call) and parent.func is use


def _trainable_variable(model: FileModel, value) -> bool:
    if not isinstance(value, cst.Call):
        return False
    name = callee(model, value)
    if name not in TF_VARIABLE and name not in KERAS_VARIABLE:
        return False
    return not is_name(keyword_argument(value, "trainable"), "False")


def _keras_layer(model: FileModel, value) -> bool:
    """`value` constructs a Keras layer (`layers.Dense(8)`, `tf.keras.layers.Conv2D(...)`)."""
    if not isinstance(value, cst.Call):
        return False
    name = callee(model, value) or ""
    parts = name.split(".")
    return parts[0] in _KERAS_ROOTS and "layers" in parts and parts[-1][:1].isupper() and parts[-1] != "Lambda" \
        and not is_name(keyword_argument(value, "trainable"), "False")


def _called_outside(model: FileModel, name: str, inside: Set[int]) -> bool:
    """The file calls (or hands on) `name` somewhere that is not a Lambda function's body."""
    for node in descendants(model.module):
        if isinstance(node, cst.Name) and node.value == name and id(node) not in inside:
            parent = model.parent(node)
            if isinstance(parent, cst.AssignTarget):
                continue
            if isinstance(parent, cst.Call) and parent.func is node:
                return True
            if isinstance(parent, (cst.Arg, cst.Element, cst.Attribute)):
                return True  # given to a model, listed, or its weights read: may be tracked there
    return False
