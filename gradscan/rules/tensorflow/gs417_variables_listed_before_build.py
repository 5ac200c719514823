from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import callee, is_name, listed_sources, method_name
from gradscan.semantics.arguments import argument_for, find_argument, keyword_argument, positional_argument
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.facts import KERAS_KINDS
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

_WEIGHT_LISTS = {"trainable_variables", "trainable_weights"}
_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")
# Calls on a layer or model that create its variables (or need them created).
_BUILDERS = {"build", "fit", "predict", "evaluate", "train_on_batch", "predict_on_batch", "summary", "load_weights", "set_weights", "get_weights", "count_params"}
# Keywords that give the first layer of a Sequential (or a layer) its input shape: built at once.
_SHAPE_KEYWORDS = {"input_shape", "input_dim", "batch_input_shape", "batch_shape"}


class VariablesListedBeforeBuild(Rule):
    code = "GS417"
    name = "variables-listed-before-build"
    framework = "tensorflow"
    summary = "`params = layer.trainable_variables` saved before the layer or model was built (called): the list is empty and stays empty, the tape never trains it"
    message = "`{net}` is not built yet: `{attr}` is empty and stays so; build it first or read it later"
    explanation = (
        "Keras creates a layer's variables on its first call (or build()): trainable_variables read before that "
        "is an empty list, and a list saved then never gains the variables created later."
    )
    hint = "build the layer or model first (`net.build(input_shape)`, a `keras.Input`, a first call on data), or read `net.trainable_variables` inside the step"
    facts = ("tf61",)
    triggers = ("trainable_variables", "trainable_weights")
    doc = """
    ## What it does
    Flags `net.trainable_variables` (or `trainable_weights`) read into a saved value
    (`params = net.trainable_variables`, `train_vars = backbone.trainable_variables +
    head.trainable_variables`) that the file then gives to `tape.gradient` or
    `apply_gradients` (or, at module level in a file with no training step, that the file
    never reads again: another module trains with it), when `net` is, in the same scope and
    before that read:
    - made by a Keras layer constructor (`layers.Dense(2)`) with no input shape keyword, or
      a `Sequential([...])` whose first item is no `Input`/`InputLayer` and has no
      `input_shape=`, or an instance of a Keras model class of the file; and
    - neither called (`net(x)`) nor built (`net.build(...)`, `fit`, `predict`, `summary`,
      `load_weights`, ...), and no function of the file was called before the read.

    It also flags a trainer object that saves the list on `self` in a method
    (`self.params = net.trainable_variables` in `__init__`) and differentiates or applies
    `self.params` in a method of the same class, when `net` is a parameter that every call
    of the file fills with such an unbuilt layer or model: made in the call, bound to a name
    not used before the call, or returned by a factory function of the file
    (`Trainer(make_mlp())`), and the method neither calls, builds nor hands on `net` before
    the read.

    ## Why it breaks gradients
    Keras creates a layer's variables when it first sees an input shape: on its first call
    or `build()`. Before that `trainable_variables` is an empty list, and a list saved then
    is a plain Python list that stays empty after the layer builds (fact tf61). The tape
    differentiates the saved list, the optimizer applies to it: the unbuilt part never
    trains, silently when other variables are in the list (a new head beside a built
    backbone); when it is the only one, Keras 3's `apply_gradients` raises on the empty list.

    Not flagged: reads after a call or build, built models (`keras.Input`, `input_shape=`,
    functional `Model(inputs, outputs)`), reads inside the training step (a fresh list each
    time), and lists never given to a tape or optimizer.

    ## Example
    ```python
    head = keras.layers.Dense(2)
    train_vars = backbone.trainable_variables + head.trainable_variables
    ```

    ## Use instead
    ```python
    head = keras.layers.Dense(2)
    head.build((None, 8))
    train_vars = backbone.trainable_variables + head.trainable_variables
    ```

    ## References
    - Keras guide "Making new layers and models via subclassing": weights are created lazily on the first call
    - tensorflow/tensorflow#26948, tensorflow/tensorflow#29073
    - gradscan facts: tf61
    """
    invalid = (
        """
        import keras
        import tensorflow as tf

        backbone = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8)])
        head = keras.layers.Dense(2)
        train_vars = backbone.trainable_variables + head.trainable_variables  # error: GS417
        opt = keras.optimizers.SGD(0.1)

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(head(backbone(x)) - y))
            opt.apply_gradients(zip(tape.gradient(loss, train_vars), train_vars))
        """,
    )
    valid = (
        """
        import keras
        import tensorflow as tf

        backbone = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8)])
        head = keras.layers.Dense(2)
        head.build((None, 8))
        train_vars = backbone.trainable_variables + head.trainable_variables
        opt = keras.optimizers.SGD(0.1)

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(head(backbone(x)) - y))
            opt.apply_gradients(zip(tape.gradient(loss, train_vars), train_vars))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        listed = None
        defs = model.get(Definitions)
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
                continue
            reads = [n for n in [node.value, *descendants(node.value)]
                     if isinstance(n, cst.Attribute) and n.attr.value in _WEIGHT_LISTS and isinstance(n.value, cst.Name)]
            if not reads:
                continue
            if listed is None:
                listed = listed_sources(model)
                steps = any(method_name(c) in ("gradient", "apply_gradients", "minimize") for c, _f in model.calls)
            saved = node.targets[0].target.value
            if saved not in listed and not (fn is None and not steps and not _read_again(model, saved, node)):
                continue  # a module-level list no step of this file reads: another module trains with it
            for read in reads:
                net = read.value
                found, kind = defs.reaching(net, fn)
                if kind != "local" or len(found) != 1 or found[0].value is None or found[0].kind != "name":
                    continue
                if not _unbuilt(model, found[0].value):
                    continue
                if _used_between(model, net.value, fn, found[0].stmt, node):
                    continue
                yield Report(read, self.message.format(net=net.value, attr=read.attr.value))
        yield from self._saved_on_self(model, defs)

    def _saved_on_self(self, model: FileModel, defs) -> Iterator[Report]:
        """`self.params = net.trainable_variables` in a method (a trainer's `__init__`), the
        class's step differentiating or applying `self.params`, and `net` a parameter every
        constructor call (or caller) of this file fills with an unbuilt layer or model, made
        there or returned by a factory function of the file (`Trainer(perceptron())`)."""
        for node, fn in model.assignments:
            if fn is None or fn.cls is None or not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0].target
            read = node.value
            if not (isinstance(target, cst.Attribute) and is_name(target.value, "self") and isinstance(read, cst.Attribute)
                    and read.attr.value in _WEIGHT_LISTS and isinstance(read.value, cst.Name)):
                continue
            if not _stepped_in_class(model, fn.cls, target.attr.value):
                continue
            net = read.value
            _found, kind = defs.reaching(net, fn)
            if kind != "param" or _mentioned_before(model, net.value, fn, node):
                continue
            values = _passed_values(model, fn, net.value)
            if values and all(_unbuilt(model, v) for v in values):
                yield Report(read, self.message.format(net=net.value, attr=read.attr.value))


def _unbuilt(model: FileModel, value) -> bool:
    """`value` makes a Keras layer or model with no variables yet."""
    if not isinstance(value, cst.Call):
        return False
    if any(a.keyword is not None and a.keyword.value in _SHAPE_KEYWORDS for a in value.args):
        return False
    name = callee(model, value)
    if name is None:
        cls = model.objects.instance_class(value, model.enclosing_function(value)) if isinstance(value.func, cst.Name) else None
        if cls is None or cls.kind not in KERAS_KINDS:
            return False
        fn = model.find_method(cls, "__init__")
        if fn is not None and any(isinstance(n, cst.Call) and method_name(n) == "build" for n in descendants(fn.node.body)):
            return False
        return True
    parts = name.split(".")
    if parts[0] not in _KERAS_ROOTS or not parts[-1][:1].isupper():
        return False
    if parts[-1] == "Sequential":
        layers = positional_argument(value, 0) or keyword_argument(value, "layers")
        if not isinstance(layers, (cst.List, cst.Tuple)) or not layers.elements:
            return True
        first = layers.elements[0].value
        if isinstance(first, cst.Call):
            first_name = (callee(model, first) or "").rsplit(".", 1)[-1]
            if first_name in ("Input", "InputLayer") or any(a.keyword is not None and a.keyword.value in _SHAPE_KEYWORDS for a in first.args):
                return False
            return True
        return False  # a layer object made elsewhere: may be built
    if parts[-1] in ("Model", "Functional", "Input", "InputLayer", "Variable"):
        return False
    return "layers" in parts


def _used_between(model: FileModel, name: str, fn, bind, read) -> bool:
    """Between the binding and the read, the scope calls `name`, builds it, hands it to
    something, or calls any function (which may call it)."""
    order = model.flow.order
    start, end = order(bind), order(read)
    for call, owner in model.calls:
        if owner is not fn or not (start < order(call) < end):
            continue
        if any(anc is bind for anc in model.ancestors(call)):
            continue  # the constructor call that made it
        func = call.func
        if is_name(func, name):
            return True
        if isinstance(func, cst.Attribute) and is_name(func.value, name) and func.attr.value in _BUILDERS:
            return True
        if any(isinstance(n, cst.Name) and n.value == name for a in call.args for n in [a.value, *descendants(a.value)]):
            return True
        if callee(model, call) is None and not isinstance(func, cst.Attribute):
            return True  # a function of the file: it may call the network
    return False


def _read_again(model: FileModel, name: str, binding) -> bool:
    """The file reads `name` outside the statement that binds it, other than to log or check
    it (`len(params)`, `print(params)`, an `assert`): a read that could train with it."""
    inside = {id(n) for n in descendants(binding)}
    for n in descendants(model.module):
        if not isinstance(n, cst.Name) or n.value != name or id(n) in inside:
            continue
        parent = model.parent(n)
        arg_of = model.parent(parent) if isinstance(parent, cst.Arg) else None
        if isinstance(arg_of, cst.Call) and isinstance(arg_of.func, cst.Name) and arg_of.func.value in ("len", "print", "str", "repr"):
            continue
        if any(isinstance(a, cst.Assert) for a in model.ancestors(n)):
            continue
        return True
    return False


def _stepped_in_class(model: FileModel, cls, attr: str) -> bool:
    """A method of `cls` differentiates or applies `self.<attr>`: `tape.gradient(loss,
    self.params)`, `apply_gradients(zip(grads, self.params))`, `minimize(..., var_list=self.params)`."""
    wanted = f"self.{attr}"
    for call, owner in model.calls:
        if owner is None or owner.cls is not cls:
            continue
        m = method_name(call)
        if m == "gradient":
            given = [find_argument(call, 1, "sources")]
        elif m in ("apply_gradients", "minimize"):
            given = [a.value for a in call.args]
        else:
            continue
        for expr in given:
            if expr is not None and any(dotted(n) == wanted for n in [expr, *descendants(expr)] if isinstance(n, cst.Attribute)):
                return True
    return False


def _mentioned_before(model: FileModel, name: str, fn, stmt) -> bool:
    """`fn` hands `name` to a call, calls it or builds it before `stmt` (it may be built by then)."""
    order = model.flow.order
    end = order(stmt)
    names = {name}  # and what `fn` binds it to first (`self.model = model`)
    for node, owner in model.assignments:
        if owner is fn and isinstance(node, cst.Assign) and is_name(node.value, name) and order(node) < end:
            names.update(t for t in (dotted(x.target) for x in node.targets) if t)
    for call, owner in model.calls:
        if owner is not fn or order(call) >= end:
            continue
        func = call.func
        if dotted(func) in names or (isinstance(func, cst.Attribute) and dotted(func.value) in names):
            return True
        if any(dotted(n) in names for a in call.args for n in [a.value, *descendants(a.value)] if isinstance(n, (cst.Name, cst.Attribute))):
            return True
    return False


def _passed_values(model: FileModel, fn, param: str):
    """The values the file's calls pass for `fn`'s `param` (constructor calls of its class for
    `__init__`), each followed to what makes it: a name bound once in the caller, or the
    returns of a factory function of the file. None when one cannot be told."""
    defs = model.get(Definitions)
    if fn.name == "__init__":
        calls = [(c, o) for c, o in model.calls if dotted(c.func) == fn.cls.name]
    else:
        calls = model.objects.callers_of(fn)
    out = []
    for call, owner in calls[:8]:
        arg = argument_for(fn, call, param)
        if isinstance(arg, cst.Name):
            found, kind = defs.reaching(arg, owner)
            if kind != "local" or len(found) != 1 or found[0].value is None or _used_between(model, arg.value, owner, found[0].stmt, call):
                return None
            arg = found[0].value
        if not isinstance(arg, cst.Call):
            return None
        factory = model.objects.called_function(arg, owner) if callee(model, arg) is None else None
        if factory is not None and factory.cls is None:
            returned = [r.value for r in factory.returns if isinstance(r, cst.Return)]
            if not returned or not all(isinstance(v, cst.Call) for v in returned):
                return None
            out.extend(returned)
        else:
            out.append(arg)
    return out or None
