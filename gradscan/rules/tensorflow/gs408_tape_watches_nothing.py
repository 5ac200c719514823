from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import TF_VARIABLE, callee, enclosing_tape, is_name, method_name, tape_withs
from gradscan.semantics.arguments import argument_for, find_argument, keyword_argument
from gradscan.semantics.contexts import is_gradient_tape
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.walk import descendants, target_names

# Calls that make a plain tensor (not a variable): the tape records operations on it only when
# `tape.watch` names it (fact tf47).
_CONDITIONAL = (cst.If, cst.Else, cst.For, cst.While, cst.Try, cst.ExceptHandler, cst.Finally, cst.IfExp)

TENSOR_FACTORIES = {
    f"tensorflow.{name}" for name in (
        "random.normal", "random.uniform", "random.truncated_normal", "zeros", "ones", "fill", "constant",
        "convert_to_tensor", "eye", "linspace", "range",
    )
}


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
    facts = ("tf38", "tf47")
    triggers = ("watch_accessed_variables", "gradient")
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

    Also flags the weights of from-scratch code kept as plain tensors: a name bound once to
    `tf.random.normal(...)`, `tf.zeros(...)`, `tf.constant(...)` (a tensor, not a `tf.Variable`)
    that a tape's `gradient` is asked about, with no `.watch(...)` of it anywhere in the file.
    A tape records only variables and watched tensors: the gradient is None (fact tf47).
    The same for a tensor computed by library ops from nothing the tape records (inputs,
    random draws, a network's output made before the tape; a parameter counts when every
    caller passes such a tensor) and never watched: a gradient penalty's interpolated batch
    `mixed = eps * real + (1 - eps) * fake` asked about with `gp_tape.gradient(score, mixed)`,
    or a saliency map of a resized image; flagged at the `gradient` call. Computed inside the
    block from a variable or a network's output, it is recorded and not flagged.

    Also flags a hand-written descent step that rebinds a gradient source to arithmetic on
    itself: `w = w - lr * dw`, `params[k] = params[k] - lr * grads[k]`,
    `self.w -= lr * g`, where the step's term comes from that tape's `gradient` and the
    source is one the `gradient` call lists (by name, attribute, or as an item of the list or
    dict it lists). The result is a plain tensor, not the variable: the next tape does not
    watch it and its gradient is None (a `tf.Variable`'s `-=` raises instead; a
    `keras.Variable`'s rebinds silently). A source the tape watches (`tape.watch(x)`, an
    adversarial input updated in place of a weight) and an update inside another tape's block
    (a meta-learning fast weight the outer tape differentiates) are not flagged.

    Not flagged: a tape that is passed to another function, stored, or returned (the watch may
    happen there), a tape whose gradient is never computed, and a name bound more than once or
    in another function than the one asking for the gradient.

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
    - TensorFlow API: `tf.GradientTape`, `watch_accessed_variables`, `GradientTape.watch`
    - gradscan facts: tf38, tf47
    """
    invalid = (
        """
        import tensorflow as tf

        v = tf.Variable([1.0, 2.0])
        with tf.GradientTape(watch_accessed_variables=False) as tape:  # error: GS408
            loss = tf.reduce_sum(v * v)
        grad = tape.gradient(loss, v)
        """,
        """
        import tensorflow as tf

        def sgd(params, x, y, lr=0.1):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((x @ params["w"] - y) ** 2)
            grads = tape.gradient(loss, params)
            for k in params:
                params[k] = params[k] - lr * grads[k]  # error: GS408
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def sgd(params, x, y, lr=0.1):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((x @ params["w"] - y) ** 2)
            grads = tape.gradient(loss, params)
            for k in params:
                params[k].assign_sub(lr * grads[k])
        """,
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
        yield from self._unwatched_tensors(model)
        yield from self._rebound_sources(model)
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


    def _unwatched_tensors(self, model: FileModel) -> Iterator[Report]:
        """`W = tf.random.normal(...)` (a tensor, not a variable), then `tape.gradient(loss, W)`
        with no `tape.watch(W)` anywhere: the gradient is None (fact tf47)."""
        tapes = _tape_names(model)
        if not tapes:
            return
        asked = {}
        asked_at = {}
        for call, fn in model.calls:
            if method_name(call) != "gradient" or not isinstance(call.func.value, cst.Name):
                continue
            if (fn, call.func.value.value) not in tapes:
                continue
            sources = find_argument(call, 1, "sources")
            if isinstance(sources, (cst.List, cst.Tuple)):
                elements = [e.value for e in sources.elements if isinstance(e, cst.Element)]
            else:
                elements = [sources]
            for value in elements:
                if isinstance(value, cst.Name):
                    asked.setdefault(value.value, fn)
                    asked_at.setdefault(value.value, (call, value))
        if not asked:
            return
        bindings, watched = self._bindings_and_watches(model, set(asked))
        reported = set()
        for name, fn in sorted(asked.items()):
            if name in watched:
                continue
            found = bindings.get(name)
            if found is not None and len(found) == 1 and found[0] is not None:
                node, scope = found[0]
                if scope is not None and scope is not fn:
                    continue  # bound in another function: not the name the tape's scope reads
                value = node.value
            else:
                # several bindings in the file (`image = tf.convert_to_tensor(image)` rebinds a
                # parameter): the one assignment that reaches the gradient call decides
                value = _reaching_value(model, asked_at[name][1], fn)
                if value is None:
                    continue
            if id(value) in reported:
                continue
            if isinstance(value, cst.Call) and callee(model, value) in TENSOR_FACTORIES:
                reported.add(id(value))
                yield Report(value, "a plain tensor is not watched by the tape: its gradient is None; make it a tf.Variable")
                continue
            call = asked_at[name][0]
            block = _tape_block(model, call, fn)
            if block is not None and _unrecorded_tensor(model, value, block, fn, watched):
                reported.add(id(value))
                yield Report(call, self.computed_message.format(name=name))

    @staticmethod
    def _bindings_and_watches(model: FileModel, names):
        """Every binding of each name in the file ((Assign, scope), or None for a binding that is
        not one plain assignment: a parameter, loop target, import, `global`...), and the names
        some `.watch(...)` call mentions."""
        bindings = {}
        watched = set()
        for node in descendants(model.module):
            kind = type(node)
            if kind is cst.Assign:
                for t in node.targets:
                    single = type(t.target) is cst.Name
                    for n in target_names(t.target):
                        if n in names:
                            bindings.setdefault(n, []).append((node, model.enclosing_function(node)) if single else None)
            elif kind in (cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr):
                target = node.target
                for n in target_names(target):
                    if n in names:
                        bindings.setdefault(n, []).append(None)
            elif kind is cst.Param or kind in (cst.FunctionDef, cst.ClassDef):
                if node.name.value in names:
                    bindings.setdefault(node.name.value, []).append(None)
            elif kind in (cst.Global, cst.Nonlocal, cst.Import, cst.ImportFrom, cst.AsName, cst.Del):
                for sub in descendants(node):
                    if isinstance(sub, cst.Name) and sub.value in names:
                        bindings.setdefault(sub.value, []).append(None)
            elif kind is cst.Call and method_name(node) == "watch":
                for arg in node.args:
                    for sub in descendants(arg.value):
                        if isinstance(sub, cst.Name):
                            watched.add(sub.value)
                    if isinstance(arg.value, cst.Name):
                        watched.add(arg.value.value)
        return bindings, watched


    computed_message = "`{name}` is computed from nothing the tape records and never watched: its gradient is None; watch it"
    rebound_message = "`{slot} - ...` rebinds a gradient source to a tensor no later tape watches; use `.assign_sub`"

    def _rebound_sources(self, model: FileModel) -> Iterator[Report]:
        """`w = w - lr * dw` after `dw = tape.gradient(loss, w)`: the slot the gradient listed now
        holds a tensor, which the next tape does not watch (fact tf47)."""
        tapes = _tape_names(model)
        if not tapes:
            return
        order = model.flow.order
        done = set()
        for call, fn in model.calls:
            if method_name(call) != "gradient" or not isinstance(call.func.value, cst.Name):
                continue
            if (fn, call.func.value.value) not in tapes:
                continue
            slots, containers = _listed_slots(find_argument(call, 1, "sources"))
            grads = _bound_by(model, call)
            if not (slots or containers) or not grads:
                continue
            watched = _watched_roots(model, fn)
            for node, owner in model.assignments:
                if owner is not fn or id(node) in done or order(node) < order(call):
                    continue
                found = _descent_update(node)
                if found is None:
                    continue
                slot, step = found
                text = _code(slot)
                listed = text in slots or (isinstance(slot, cst.Subscript) and _code(slot.value) in containers)
                if not listed or not any(isinstance(n, cst.Name) and n.value in grads for n in [step, *descendants(step)]):
                    continue
                if _root(slot) in watched or enclosing_tape(model, node) is not None:
                    continue  # watched, or recorded by an outer tape (a MAML fast weight)
                done.add(id(node))
                yield Report(node, self.rebound_message.format(slot=text))


def _reaching_value(model: FileModel, use: cst.Name, fn) -> Optional[cst.BaseExpression]:
    """The value of the one plain assignment in `fn` that reaches `use` whenever it runs (no
    parameter, loop target or conditional alternative can reach it instead); None otherwise."""
    found, kind = model.get(Definitions).reaching(use, fn)
    if kind != "local" or len(found) != 1:
        return None
    b = found[0]
    if b.kind != "name" or b.block or b.index is not None or not isinstance(b.stmt, cst.Assign):
        return None
    if len(b.stmt.targets) != 1 or not isinstance(b.stmt.targets[0].target, cst.Name):
        return None
    around_use = {id(a) for a in model.ancestors(use)}
    for anc in model.ancestors(b.stmt):
        if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
            break
        if isinstance(anc, _CONDITIONAL) and id(anc) not in around_use:
            return None  # bound only on one branch: the earlier value (a variable?) may reach
    return b.value


def _tape_block(model: FileModel, call: cst.Call, fn) -> Optional[cst.With]:
    """The last `with tf.GradientTape() as <tape>:` block of the gradient call's tape before it."""
    order = model.flow.order
    best = None
    for block in tape_withs(model):
        if model.enclosing_function(block) is not fn or order(block) > order(call):
            continue
        if any(i.asname is not None and is_name(i.asname.name, call.func.value.value) for i in block.items):
            if best is None or order(block) > order(best):
                best = block
    return best


def _unrecorded_tensor(model: FileModel, value: cst.BaseExpression, block: cst.With, fn, watched) -> bool:
    """`value` computes a tensor (library ops on other tensors) from nothing the tape records:
    no operand is a variable, a network's output or a value computed inside the block, none is
    watched, and a parameter operand is given only non-variable tensors by every caller (an
    interpolated batch of a gradient penalty built from `real` and `fake`). A gradient asked
    about it is None (fact tf47): the tape records operations on a tensor only when a watched
    value flows into it."""
    taint = model.sources.tensorflow
    defs = model.get(Definitions)
    operators = False
    for node in [value, *descendants(value)]:
        if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation)):
            operators = True
        elif isinstance(node, cst.Call):
            name = callee(model, node) or ""
            if name.split(".", 1)[0] not in ("tensorflow", "keras", "numpy", "math") or name.rsplit(".", 1)[-1][:1].isupper():
                return False  # a network, a variable factory, or a call this file does not show
            operators = True
        elif isinstance(node, cst.Attribute):
            if model.resolve(node) is None and taint.carries(node, fn):
                return False
        elif isinstance(node, cst.Name):
            if node.value in watched:
                return False
            parent = model.parent(node)
            if (isinstance(parent, cst.Attribute) and (parent.attr is node or model.resolve(parent) is not None)) \
                    or (isinstance(parent, cst.Arg) and parent.keyword is node):
                continue  # `tf` of `tf.random.uniform`, an attribute's name, a keyword
            bindings, kind = defs.reaching(node, fn)
            if kind == "param":
                if not _callers_pass_tensors(model, fn, node.value):
                    return False
                continue
            for b in bindings:
                if b.value is None or any(anc is block for anc in model.ancestors(b.stmt)):
                    return False
                if not _unrecorded_tensor(model, b.value, block, fn, watched) and not (
                        isinstance(b.value, cst.Call) and callee(model, b.value) in TENSOR_FACTORIES):
                    return False
    return operators


def _callers_pass_tensors(model: FileModel, fn, param: str) -> bool:
    """Every caller in the file passes `param` a tensor that is not a variable: a network's
    output or library ops on such tensors (a variable would be recorded by the tape)."""
    if fn is None:
        return False
    callers = model.objects.callers_of(fn)[:8]
    if not callers:
        return False
    for call, owner in callers:
        arg = argument_for(fn, call, param)
        if arg is None or not _plain_tensor(model, arg, owner, 3):
            return False
    return True


def _plain_tensor(model: FileModel, expr: cst.BaseExpression, scope, depth: int) -> bool:
    """`expr` is a tensor and no variable: calls of library functions (not constructors such as
    `tf.Variable` or a layer class) or of networks, arithmetic, and names bound to such values."""
    if depth <= 0:
        return False
    for node in [expr, *descendants(expr)]:
        if isinstance(node, cst.Call):
            name = callee(model, node)
            if name is not None and (name in TF_VARIABLE or name.rsplit(".", 1)[-1][:1].isupper()
                                     or name.split(".", 1)[0] not in ("tensorflow", "keras", "numpy")):
                return False
        elif isinstance(node, cst.Attribute):
            if model.resolve(node) is None and not isinstance(model.parent(node), cst.Call):
                return False  # an attribute read (`layer.kernel`): may be a variable
        elif isinstance(node, cst.Name):
            parent = model.parent(node)
            if isinstance(parent, cst.Attribute) or (isinstance(parent, cst.Call) and parent.func is node) \
                    or (isinstance(parent, cst.Arg) and parent.keyword is node):
                continue  # a module, an attribute's or a function's name, a keyword: not a value
            bindings, kind = model.get(Definitions).reaching(node, scope)
            if kind == "param" or not bindings:
                return False
            if not all(b.value is not None and _plain_tensor(model, b.value, scope, depth - 1) for b in bindings):
                return False
    return True


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _root(expr) -> Optional[str]:
    while isinstance(expr, (cst.Attribute, cst.Subscript)):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _listed_slots(sources):
    """The slots `tape.gradient(target, sources)` lists (`w`, `self.w`, `[w, b]`), and the
    containers whose items it lists (`params`, `model_vars`)."""
    slots, containers = set(), set()
    if sources is None:
        return slots, containers
    elements = [e.value for e in sources.elements if isinstance(e, cst.Element)] \
        if isinstance(sources, (cst.List, cst.Tuple)) else [sources]
    for e in elements:
        if isinstance(e, (cst.Name, cst.Attribute, cst.Subscript)):
            slots.add(_code(e))
            if not isinstance(e, cst.Subscript):
                containers.add(_code(e))
    return slots, containers


def _bound_by(model: FileModel, call: cst.Call) -> set:
    """The names the statement holding `call` binds (`grads`, `dw, db`)."""
    stmt = model.enclosing_statement(call)
    if isinstance(stmt, cst.Assign) and stmt.value is call:
        return {n for t in stmt.targets for n in target_names(t.target)}
    return set()


def _watched_roots(model: FileModel, fn) -> set:
    out = set()
    for call, owner in model.calls:
        if owner is fn and method_name(call) == "watch" and call.args:
            for sub in [call.args[0].value, *descendants(call.args[0].value)]:
                if isinstance(sub, cst.Name):
                    out.add(sub.value)
    return out


def _descent_update(node):
    """(slot, step) of `slot = slot - step`, `slot = slot + step` or `slot -= step`."""
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        slot, value = node.targets[0].target, node.value
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Subtract, cst.Add)) \
                and _code(value.left) == _code(slot):
            return slot, value.right
    if isinstance(node, cst.AugAssign) and isinstance(node.operator, (cst.SubtractAssign, cst.AddAssign)):
        return node.target, node.value
    return None


def _tape_names(model: FileModel) -> set:
    """(function, name) of every `with tf.GradientTape() as name:` of the file."""
    tapes = set()
    for block in tape_withs(model):
        for item in block.items:
            if item.asname is not None and isinstance(item.asname.name, cst.Name):
                tapes.add((model.enclosing_function(block), item.asname.name.value))
    return tapes
