from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import (
    KERAS_VARIABLE, TF_VARIABLE, callee, enclosing_tape, in_data_pipeline, is_name, method_name, tape_withs,
)
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.contexts import is_gradient_tape
from gradscan.semantics.definitions import Definitions
from gradscan.semantics import tf_training
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
    before_message = "forward pass computed before the GradientTape block: the tape never sees it, gradients are None"
    stopped_message = "value computed under tape.stop_recording() gives None gradients; compute it while the tape records"
    facts = ("tf32", "tf54")
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

    Also flags a forward pass computed before the block (`logits = forward(model, batch)`, then
    `with tape: loss = loss_fn(y, logits)`) when what the block computes the target from
    reads no variable, runs no network or helper that may, and watches nothing: the tape
    records only the loss arithmetic on a value it never saw made, and every gradient is None
    (the same fact). A block that also runs a network (a target network's output computed
    before it, the online network inside), reads a variable, or calls a function of unknown
    effect is not flagged, unless the network it runs is provably not what the gradient is
    taken for: `tape.gradient(loss, generator.trainable_variables)` with the generator's fakes
    made before the block and only the discriminator run inside it gives None for every
    generator weight, so the fakes' line is flagged.

    Also flags the value differentiated when it is computed inside `with tape.stop_recording():`
    within the tape's block: the tape records nothing there, so every gradient is None (fact
    tf54). A statistic computed there beside a loss recorded outside it is fine.

    Also flags a Keras layer or model called in a function a `tf.data` pipeline maps (a
    lambda given to `dataset.map`, or a function of the file named there) when a
    `tape.gradient` of the file differentiates its weights: the map runs before any tape
    records, so their gradients are None (fact tf32). A frozen extractor or a preprocessing
    layer there is fine.

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
    - gradscan facts: tf32, tf54
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
        """
        import tensorflow as tf

        def fit(model, x, y):
            pred = model(x)  # error: GS405
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((pred - y) ** 2)
            return tape.gradient(loss, model.trainable_variables)
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

    pipeline_message = "network run in a tf.data map function, outside every tape: the weights a tape differentiates get no gradient from it"

    def check(self, model: FileModel) -> Iterator[Report]:
        yield from self._trained_in_pipeline(model)
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
                stopped = _under_stop_recording(model, assign, tape, block) if assign is not None and self._inside(model, assign, block) else None
                if stopped is not None:
                    yield Report(stopped, self.stopped_message)  # the line to change: the pause itself
                    continue
                if assign is not None and self._inside(model, assign, block) and isinstance(assign, cst.Assign):
                    before = _forward_before(model, block, assign, fn, find_argument(call, 1, "sources"), call)
                    if before is not None:
                        yield Report(before, self.before_message)
                    continue
                if assign is None or order(assign) < order(block) or self._inside(model, assign, block):
                    continue
                if enclosing_tape(model, assign) is not None or not _computes(model, assign.value):
                    continue
                if not self._same_block(model, assign, call):
                    continue
                yield Report(assign)
            elif _computes(model, target):
                yield Report(target)

    def _trained_in_pipeline(self, model: FileModel) -> Iterator[Report]:
        """A Keras layer or model called in a function a `tf.data` pipeline maps (a lambda
        given to `dataset.map`, or a function of the file named there) whose weights a
        `tape.gradient` of the file differentiates: the map runs before any tape records,
        so those weights' gradients are None (fact tf32)."""
        taint = model.sources.tensorflow
        gradient_calls = [(c, f) for c, f in model.calls if tf_training.gradient_sources(c) is not None]
        if not gradient_calls:
            return
        mapped = _mapped_functions(model)
        for call, fn in model.calls:
            if not (in_data_pipeline(model, call) or (fn is not None and id(fn.node) in mapped)):
                continue
            net = dotted(call.func)
            if net is None or callee(model, call) is not None or not taint.builds_network(call.func, fn):
                continue
            if any(tf_training.network_trained(model, g, net, gfn) for g, gfn in gradient_calls):
                yield Report(call, self.pipeline_message)

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


def _mapped_functions(model: FileModel) -> set:
    """ids of the function definitions a `tf.data` pipeline maps: `ds.map(parse)`."""
    out = set()
    for call, fn in model.calls:
        if method_name(call) in ("map", "flat_map", "interleave", "filter") and call.args:
            arg = call.args[0].value
            target = model.module_functions.get(arg.value) if isinstance(arg, cst.Name) else None
            if target is not None:
                out.add(id(target.node))
    return out


def _under_stop_recording(model: FileModel, node: cst.CSTNode, tape: str, block: cst.With) -> Optional[cst.Call]:
    """The `<tape>.stop_recording()` call of a `with` block inside the tape's block that holds
    `node`: the tape records nothing there (tf54)."""
    for anc in model.ancestors(node):
        if anc is block:
            return None
        if isinstance(anc, cst.With):
            for item in anc.items:
                call = item.item
                if isinstance(call, cst.Call) and method_name(call) == "stop_recording" and is_name(call.func.value, tape):
                    return call
    return None


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


_PURE_BUILTINS = {"float", "int", "len", "abs", "sum", "min", "max", "range", "zip", "list", "tuple", "dict"}


def _library_function(name: Optional[str]) -> bool:
    """A TensorFlow/Keras/NumPy function (not a layer, model or variable constructor): it
    computes from its arguments only."""
    if not name or name in TF_VARIABLE or name in KERAS_VARIABLE:
        return False
    if name in _PURE_BUILTINS:
        return True
    head, last = name.split(".", 1)[0], name.rsplit(".", 1)[-1]
    return head in ("tensorflow", "keras", "tf_keras", "numpy", "math") and last[:1].islower()


def _loss_object(model: FileModel, call: cst.Call, fn) -> bool:
    """`loss_fn(y, p)` with `loss_fn = keras.losses.X(...)`, or `keras.losses.X()(y, p)`."""
    func = call.func
    if isinstance(func, cst.Call):
        return ".losses." in (callee(model, func) or "")
    if isinstance(func, cst.Name):
        bindings, _where = model.get(Definitions).reaching(func, fn)
        return bool(bindings) and all(
            isinstance(b.value, cst.Call) and ".losses." in (callee(model, b.value) or "") for b in bindings)
    return False


def _pure_function(model: FileModel, target, depth: int = 2) -> bool:
    """A function of this file whose body calls only library functions (or such functions),
    reads no attribute of `self` and opens no tape: it cannot run a network or read a weight."""
    if depth <= 0 or target is None or target.is_method:
        return False
    for node in descendants(target.node.body):
        if isinstance(node, cst.Call):
            name = callee(model, node)
            if _library_function(name) or method_name(node) in ("numpy",):
                continue
            if name is None and _pure_function(model, model.objects.called_function(node, target), depth - 1):
                continue
            return False
        if isinstance(node, (cst.With, cst.Global, cst.Nonlocal)):
            return False
    return True


def _forward_before(model: FileModel, block: cst.With, assign: cst.Assign, fn, sources, gradient_call=None) -> Optional[cst.CSTNode]:
    """The assignment before `block` of a network's output that the target assigned in the
    block is computed from, when nothing the block computes it from reads a variable, runs a
    network (or a function that may) or is watched; else None. A parameter or loop variable
    read in the block is data unless the gradient is asked about it (it may be a variable).
    A network the gradient call provably does not differentiate (its sources are the weight
    lists of other objects: a GAN's discriminator in the generator's tape) is run in the block
    on what it is given: only its inputs can carry the differentiated weights' gradient."""
    taint = model.sources.tensorflow
    asked = {n.value for n in descendants(sources) if isinstance(n, cst.Name)} if sources is not None else set()
    if isinstance(sources, cst.Name):
        asked.add(sources.value)
    defs = model.get(Definitions)
    order = model.flow.order
    if any(method_name(c) == "watch" for c in descendants(block) if isinstance(c, cst.Call)):
        return None
    todo = [assign.value]
    seen = set()
    found = None
    while todo:
        expr = todo.pop()
        if id(expr) in seen:
            continue
        seen.add(id(expr))
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Call):
                name = callee(model, node)
                if _library_function(name) or _loss_object(model, node, fn):
                    stack.extend(a.value for a in node.args)
                    continue
                if name is None and _pure_function(model, model.objects.called_function(node, fn)):
                    stack.extend(a.value for a in node.args)
                    continue
                net = dotted(node.func) if name is None else None
                if net and gradient_call is not None and model.objects.called_function(node, fn) is None \
                        and tf_training.network_trained(model, gradient_call, net, fn) is False:
                    stack.extend(a.value for a in node.args)
                    continue
                return None  # a network, a weight-reading method, or a call whose effect is unknown
            if isinstance(node, cst.Attribute):
                if taint.carries(node, fn):
                    return None  # a weight read inside the block: the tape records it
                stack.append(node.value)
                continue
            if isinstance(node, (cst.Lambda, cst.ListComp, cst.GeneratorExp, cst.DictComp, cst.SetComp)):
                return None
            if isinstance(node, cst.Name):
                if node.value in asked:
                    return None
                bindings, where = defs.reaching(node, fn)
                if where == "param" or where == "none":
                    continue  # data, or a value from elsewhere: nothing to point at
                if where != "local":
                    return None
                for b in bindings:
                    inside = any(anc is block for anc in model.ancestors(b.stmt))
                    if b.value is None or b.block:
                        if inside or b.kind != "block":
                            return None  # bound in the block by a loop or `with`: unknown
                        continue  # a loop variable before the block: data read in it
                    if inside:
                        todo.append(b.value)
                        continue
                    if order(b.stmt) > order(block) or enclosing_tape(model, b.stmt) is not None:
                        return None  # later (a loop's next turn), or recorded by a tape (re-entered)
                    if not _runs_network(model, b.value, fn):
                        if taint.carries(b.value, fn):
                            return None  # a variable, or a tensor of one (GS410's case)
                        continue
                    if found is None:
                        found = b.stmt
                continue
            for c in node.children:  # a list's or tuple's elements too (`layer([h, skip])`)
                c = c.value if isinstance(c, (cst.Element, cst.StarredElement)) else c
                if isinstance(c, cst.BaseExpression):
                    stack.append(c)
    return found


def _runs_network(model: FileModel, value: cst.BaseExpression, fn) -> bool:
    """`value` calls a network (a call that carries gradient and is no library function or
    variable factory) or a function of this file that returns a network's output (`forward(model,
    batch)` returning `model(x)`): a forward pass."""
    taint = model.sources.tensorflow
    carries = taint.carries(value, fn)
    for node in [value, *descendants(value)]:
        if not isinstance(node, cst.Call) or callee(model, node) is not None or isinstance(node.func, cst.Call):
            continue
        if carries:
            return True
        target = model.objects.called_function(node, fn)
        if target is not None and any(
                isinstance(r, cst.Return) and r.value is not None and taint.carries(r.value, target) for r in target.returns):
            return True
    return False
