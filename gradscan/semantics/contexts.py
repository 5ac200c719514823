"""Differentiable contexts: which code computes values that gradients flow through.

Roots: `forward`/`__call__`/`training_step` of torch modules (plus configured names), `call`/
`train_step`/`compute_loss` of Keras layers, `__call__` of Flax and tf.Module classes, functions
handed to JAX's differentiation transforms (directly, decorated, through `functools.partial`, as a
lambda or inner function), functions that call `.backward()` or `torch.autograd.grad` (a loss
function, a training loop body), and the bodies of `tf.GradientTape` blocks (the block, not the
whole function: code before the block or after `tape.gradient` is not recorded). A method or
module-level function a root calls is a context too, whatever its name (`helper`).

Not differentiable on purpose: `torch.no_grad()`/`inference_mode()`/`set_grad_enabled(False)`
blocks (unless re-enabled by `torch.enable_grad()`), `tape.stop_recording()` blocks, functions
decorated with `@torch.no_grad()` (even when forward calls them: their body runs without grad),
`if not self.training:` / `if deterministic:` branches, and what is called only from those. A
training loop's calls after its last `.backward()` (evaluation, checkpoints, logging) and to
inference-named functions (`evaluate`, `generate`, `sample`, ...) do not make contexts; inference
methods are contexts only when forward (or another root) reaches them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libcst as cst

from gradscan.frameworks import names as api_names
from gradscan.frameworks import torch as torch_api
from gradscan.semantics import classes as kinds
from gradscan.semantics.names import dotted

if TYPE_CHECKING:
    from gradscan.semantics.model import Context, FileModel, FunctionInfo

BACKWARD_METHODS = {"backward", "manual_backward"}
INFERENCE_NAMES = {
    "generate", "sample", "sampling", "predict", "evaluate", "validate", "inference", "infer", "test",
    "validation_step", "test_step", "predict_step", "eval_step", "on_validation_epoch_end",
}


def no_grad_call(model: "FileModel", expr: cst.BaseExpression) -> bool:
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`, `tape.stop_recording()`."""
    if isinstance(expr, cst.Call):
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "stop_recording" and not expr.args:
            return True
        name = model.resolve(expr.func)
        if name in NO_GRAD_NAMES:
            return not (name == "torch.inference_mode" and expr.args and _is_false(expr.args[0].value))
        if name in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled", "torch.autograd.grad_mode.set_grad_enabled"):
            return bool(expr.args) and _is_false(expr.args[0].value)
    else:
        return model.resolve(expr) in NO_GRAD_NAMES
    return False


NO_GRAD_NAMES = api_names(torch_api.NO_GRAD_CONTEXTS)
ENABLE_GRAD_NAMES = api_names(torch_api.ENABLE_GRAD_CONTEXTS)


def _enable_grad_call(model: "FileModel", expr: cst.BaseExpression) -> bool:
    """`torch.enable_grad()`, `torch.set_grad_enabled(True)`: gradients back on inside no_grad."""
    if not isinstance(expr, cst.Call):
        return model.resolve(expr) in ENABLE_GRAD_NAMES
    name = model.resolve(expr.func)
    if name in ENABLE_GRAD_NAMES:
        return True
    if name in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled"):
        return bool(expr.args) and isinstance(expr.args[0].value, cst.Name) and expr.args[0].value.value == "True"
    return False


def _is_false(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def is_no_grad_with(model: "FileModel", node: cst.With) -> bool:
    return any(no_grad_call(model, item.item) for item in node.items)


def has_no_grad_decorator(model: "FileModel", fn: "FunctionInfo") -> bool:
    node = fn.node
    if not isinstance(node, cst.FunctionDef):
        return False
    return any(no_grad_call(model, d.decorator) for d in node.decorators)


def is_gradient_tape(model: "FileModel", expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and model.resolve(expr.func) in ("tensorflow.GradientTape", "tensorflow.autodiff.GradientTape")


_TRAINING_NAMES = {"self.training", "training", "self.is_training", "is_training", "train", "self.train_mode"}
_EVAL_NAMES = {"deterministic", "self.deterministic", "eval_mode", "self.eval_mode", "is_eval", "self.is_eval"}


def _training_test(expr: cst.BaseExpression) -> Optional[bool]:
    """True for `self.training`, False for `not self.training` or `deterministic`, None otherwise."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        inner = _training_test(expr.expression)
        return None if inner is None else not inner
    if isinstance(expr, cst.BooleanOperation):
        # `not self.training and x`: the body runs only in evaluation (False); `self.training or
        # x`: the else branch runs only in evaluation (True). Other mixes say nothing.
        sides = (_training_test(expr.left), _training_test(expr.right))
        if isinstance(expr.operator, cst.And) and False in sides:
            return False
        if isinstance(expr.operator, cst.Or) and True in sides:
            return True
        return None
    text = dotted(expr)
    if text in _TRAINING_NAMES:
        return True
    if text in _EVAL_NAMES:
        return False
    return None


def _exits(block: cst.BaseSuite) -> bool:
    """The block always ends in `return` or `raise`."""
    if not isinstance(block, cst.IndentedBlock) or not block.body:
        return False
    last = block.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Return, cst.Raise))


# Where a block's question stops: the enclosing definition. (Types are compared, not tested
# with isinstance: libcst's node classes are ABCs, and these loops run over every ancestor.)
_SCOPES = frozenset({cst.FunctionDef, cst.ClassDef, cst.Lambda})


def in_eval_branch(model: "FileModel", node: cst.CSTNode) -> bool:
    """Inside `if not self.training:`, the `else` of `if self.training:`, or after an
    `if self.training: ... return` in the same block (the rest runs only in evaluation)."""
    child = node
    exits = model.__dict__.setdefault("_training_exits", {})
    for anc in model.ancestors(node):
        t = type(anc)
        if t is cst.IndentedBlock:
            # Per block, once: where the first `if self.training: ... return` stands and where
            # each statement stands (scanning the statements before each node was quadratic).
            got = exits.get(id(anc))
            if got is None:
                first = next((i for i, stmt in enumerate(anc.body) if type(stmt) is cst.If and stmt.orelse is None
                              and _training_test(stmt.test) is True and _exits(stmt.body)), None)
                got = exits[id(anc)] = (first, {id(stmt): i for i, stmt in enumerate(anc.body)} if first is not None else None)
            first, index = got
            if first is not None and index.get(id(child), -1) > first:
                return True
        elif t is cst.If:
            polarity = _training_test(anc.test)
            if polarity is not None and child is not anc.test:
                in_body = child is anc.body
                if (polarity and not in_body) or (not polarity and in_body):
                    return True
        elif t is cst.IfExp:
            polarity = _training_test(anc.test)
            if polarity is not None and ((polarity and child is anc.orelse) or (not polarity and child is anc.body)):
                return True
        elif t in _SCOPES:
            return False
        child = anc
    return False


def in_no_grad_block(model: "FileModel", node: cst.CSTNode) -> bool:
    """Inside `with torch.no_grad():` (and not re-enabled by an inner `torch.enable_grad()`)."""
    for anc in model.ancestors(node):
        t = type(anc)
        if t is cst.With:
            if any(_enable_grad_call(model, item.item) for item in anc.items):
                return False
            if is_no_grad_with(model, anc):
                return True
        elif t in _SCOPES:
            return False
    return False


def _tape_block(model: "FileModel", node: cst.CSTNode) -> Optional[cst.With]:
    """The `with tf.GradientTape() as tape:` (or `with tape:`) block `node` is in, within its
    own function."""
    blocks = model.__dict__.get("_tape_ids")
    if blocks is None:
        blocks = {id(w) for w in model.tape_blocks}
    for anc in model.ancestors(node):
        t = type(anc)
        if t is cst.With and id(anc) in blocks:
            return anc
        if t in _SCOPES:
            return None
    return None


def context_of(model: "FileModel", node: cst.CSTNode) -> Optional["Context"]:
    from gradscan.semantics.model import Context

    if in_no_grad_block(model, node) or in_eval_branch(model, node):
        return None
    fn = model.enclosing_function(node)
    while fn is not None:
        if fn.context is not None:
            return fn.context
        fn = fn.parent
    if _tape_block(model, node) is not None:
        return Context("tape", "tensorflow")
    return None


def _switched_off(model: "FileModel", node: cst.CSTNode) -> bool:
    return in_no_grad_block(model, node) or in_eval_branch(model, node)


def assign_contexts(model: "FileModel") -> None:
    from gradscan.semantics.model import Context

    extra = set(model.settings.forward_methods) if model.settings else set()
    scopes = model.get(Scopes)
    roots = []
    for fn in model.functions:
        if has_no_grad_decorator(model, fn):
            continue
        ctx = _root_context(model, fn, extra)
        if ctx is not None:
            fn.context = ctx
            roots.append(fn)
    _mark_jax_transformed(model, roots, scopes)
    _mark_svi_functions(model, roots, scopes)
    model.tape_blocks.extend(_find_tape_blocks(model))
    model._tape_ids = {id(w) for w in model.tape_blocks}
    # Whatever a root calls is a context too: `self.encode(x)`, `helper(x)`, `super().forward(x)`.
    todo = [(fn, fn.context, scopes.calls_within(fn)) for fn in roots]
    module_calls = [c for c, owner in model.calls if owner is None]
    if any(_is_backward(model, c) and not _switched_off(model, c) for c in module_calls):
        # A script's top level (or its `__main__` block) that backpropagates is a training loop.
        model.module_context = Context("loss", "torch")
        todo.append((None, model.module_context, module_calls))
    tape_ctx = Context("tape", "tensorflow")
    for block in model.tape_blocks:
        owner = model.enclosing_function(block)
        calls = [c for c, o in model.calls if o is owner and _tape_block(model, c) is block]
        todo.append((owner, tape_ctx, calls))
    _propagate(model, scopes, todo, tape_ctx)
    # Then the functions other project files train through, unless this file (with the callers
    # linked to it) already reaches them from a root: what the file shows comes first.
    external: list = []
    _mark_called_from_other_files(model, external)
    _propagate(model, scopes, [(fn, fn.context, scopes.calls_within(fn)) for fn in external], tape_ctx)


def _propagate(model: "FileModel", scopes: "Scopes", todo, tape_ctx) -> None:
    """Whatever a root calls is a context too: `self.encode(x)`, `helper(x)`, `super().forward(x)`."""
    from gradscan.semantics.model import Context

    while todo:
        fn, ctx, calls = todo.pop()
        loss_root = ctx.kind == "loss"
        if loss_root:
            calls = _before_last_backward(model, calls)
        for call in calls:
            if _switched_off(model, call):
                continue
            target = called_function(model, fn, call, scopes)
            if target is None or target.context is not None or has_no_grad_decorator(model, target):
                continue
            if loss_root and _inference_name(target.name) and not _feeds_backward(model, fn, call, calls):
                continue  # a training loop's `evaluate(model, loader)` (not `predicted(x)` in the loss)
            target.context = Context("helper", ctx.framework, ctx.root or (fn if ctx is not tape_ctx and fn is not None else None))
            todo.append((target, target.context, scopes.calls_within(target)))


def _feeds_backward(model: "FileModel", fn, call: cst.Call, calls) -> bool:
    """`call` computes part of what a backward call among `calls` backpropagates: it sits in
    the backpropagated expression or in a value assigned, transitively, to a name read there."""
    from gradscan.semantics.walk import descendants

    exprs = []
    for c in calls:
        if _is_backward(model, c):
            exprs.append(c.func.value if isinstance(c.func, cst.Attribute) and c.func.attr.value == "backward"
                         else (c.args[0].value if c.args else c))
    if not exprs:
        return False
    wanted = {n.value for e in exprs for n in descendants(e) if type(n) is cst.Name}
    assigns = [(node, {n.value for t in node.targets for n in descendants(t.target) if type(n) is cst.Name})
               for node, owner in model.assignments if owner is fn and type(node) is cst.Assign]
    reached = {id(e) for e in exprs}
    changed = True
    while changed:
        changed = False
        for node, targets in assigns:
            if id(node.value) not in reached and targets & wanted:
                reached.add(id(node.value))
                wanted |= {n.value for n in descendants(node.value) if type(n) is cst.Name}
                changed = True
    return id(call) in reached or any(id(a) in reached for a in model.ancestors(call))


def _find_tape_blocks(model: "FileModel"):
    """`with tf.GradientTape() as tape:`, and `with tape:` after `tape = tf.GradientTape()` in
    the same scope."""
    if not model.withs:
        return []
    tapes = set()
    for node, owner in model.assignments:
        if isinstance(node, cst.Assign) and is_gradient_tape(model, node.value):
            for t in node.targets:
                if isinstance(t.target, cst.Name):
                    tapes.add((id(owner), t.target.value))
    out = []
    for node, owner in model.withs:
        for item in node.items:
            if is_gradient_tape(model, item.item) or (isinstance(item.item, cst.Name) and (id(owner), item.item.value) in tapes):
                out.append(node)
                break
    return out


def _inference_name(name: str) -> bool:
    name = name.lower().lstrip("_")
    return name in INFERENCE_NAMES or name.startswith(INFERENCE_PREFIXES)


INFERENCE_PREFIXES = ("eval", "valid", "test", "predict", "generate", "sample_", "infer", "log_", "save", "visuali", "plot")


def _before_last_backward(model: "FileModel", calls):
    """The calls of a training loop up to (and inside) its last `.backward()`: what comes after
    (optimizer steps, evaluation, checkpoints, logging) does not feed the backpropagated value."""
    last = None
    for i, call in enumerate(calls):
        if _is_backward(model, call):
            last = i
    if last is None:
        return calls
    backward = calls[last]
    out = list(calls[: last + 1])
    for call in calls[last + 1:]:
        if any(a is backward for a in model.ancestors(call)):
            out.append(call)
    return out


def _is_backward(model: "FileModel", call: cst.Call) -> bool:
    """`x.backward()`, `self.manual_backward(x)`, `accelerator.backward(x)`, `torch.autograd.grad(...)`."""
    func = call.func
    if isinstance(func, cst.Attribute):
        if func.attr.value in BACKWARD_METHODS:
            return True
        return func.attr.value == "grad" and model.resolve(func) == "torch.autograd.grad"
    return isinstance(func, cst.Name) and func.value == "grad" and model.resolve(func) == "torch.autograd.grad"


def _root_context(model: "FileModel", fn: "FunctionInfo", extra) -> Optional["Context"]:
    from gradscan.semantics.model import Context

    if fn.is_method and fn.cls.kind is not None:
        kind = fn.cls.kind
        if kind == kinds.TORCH and (fn.name in kinds_torch_roots() or fn.name in extra):
            if fn.name == "forward" and _forward_off_the_training_path(model, fn):
                return None
            return Context("training-step" if fn.name == "training_step" else "forward", "torch")
        if kind in (kinds.KERAS, kinds.KERAS_LEGACY) and (fn.name in ("call", "train_step", "compute_loss") or fn.name in extra):
            return Context("keras-call", "tensorflow")
        if kind == kinds.TF_MODULE and fn.name == "__call__":
            return Context("keras-call", "tensorflow")
        if kind in (kinds.FLAX_LINEN, kinds.FLAX_NNX) and fn.name == "__call__":
            return Context("forward", "jax")
    for call in fn.calls:
        if _is_backward(model, call) and not _switched_off(model, call):
            return Context("loss", "torch")
    return None


def _forward_off_the_training_path(model: "FileModel", fn: "FunctionInfo") -> bool:
    """A Lightning module's `forward` that its own `training_step` never runs (`self(x)`,
    `self.forward(x)`): the inference entry point (an RL agent's action sampling), not what
    is trained."""
    chain = list(model.class_chain(fn.cls))
    if not any("training_step" in c.methods for c in chain):
        return False
    for c in chain:
        for method in c.methods.values():
            for call in method.calls:
                func = call.func
                if (type(func) is cst.Name and func.value == "self") or (
                        type(func) is cst.Attribute and func.attr.value == "forward"
                        and type(func.value) is cst.Name and func.value.value == "self"):
                    return False
    return True


def kinds_torch_roots():
    from gradscan.semantics.model import TORCH_ROOTS

    return TORCH_ROOTS


class Scopes:
    """Functions by (enclosing function, name), nested functions by parent, lambdas by the name
    they are assigned to: built once per file, so that call resolution is a dictionary lookup."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self.by_name = {}
        self.children = {}
        for fn in model.functions:
            if isinstance(fn.node, cst.FunctionDef) and not fn.is_method:  # methods: `find_method`
                self.by_name.setdefault((id(fn.parent), fn.name), fn)
            if fn.parent is not None:
                self.children.setdefault(id(fn.parent), []).append(fn)
        for node, owner in model.assignments:
            if isinstance(node, cst.Assign) and isinstance(node.value, cst.Lambda) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
                lam = model.function_of.get(node.value)
                if lam is not None:
                    self.by_name.setdefault((id(owner), node.targets[0].target.value), lam)

    def lookup(self, scope, name: str):
        """The function `name` denotes in `scope`: inner functions of the enclosing scopes first,
        then the module's (a method's scope does not see its class's other methods)."""
        while scope is not None:
            found = self.by_name.get((id(scope), name))
            if found is not None:
                return found
            if name in scope.bindings:
                return None  # a parameter or local variable of that name: not a module function
            scope = scope.parent
        return self.by_name.get((id(None), name))

    def calls_within(self, fn: "FunctionInfo"):
        """Calls in `fn` and in the functions and lambdas nested in it."""
        out = list(fn.calls)
        todo = list(self.children.get(id(fn), ()))
        while todo:
            inner = todo.pop()
            out.extend(inner.calls)
            todo.extend(self.children.get(id(inner), ()))
        return out


def _mark_called_from_other_files(model: "FileModel", roots) -> None:
    """Module-level functions that training code in another project file calls to compute what
    it backpropagates (the project index's call edges): roots whose return reaches a loss."""
    from gradscan.semantics.model import Context

    project = model.project
    if project is None or not model.module_name or not hasattr(project, "trained_functions"):
        return
    trained = project.trained_functions(model.module_name)
    if not trained:
        return
    # (a function the file's own differentiable code calls, or the callers linked to it, is
    # decided by that code: `predicted(x)` skipped as evaluation there is not a root here)
    called_here = {id(t) for c, o in model.calls
                   if (o.context is not None if o is not None else model.module_context is not None)
                   for t in [model.objects.called_function(c, o)] if t is not None} if trained else set()
    for fn in model.functions:
        if id(fn) in called_here:
            continue
        if fn.parent is None and not fn.is_method and fn.context is None and fn.name in trained \
                and isinstance(fn.node, cst.FunctionDef) and not has_no_grad_decorator(model, fn):
            framework, live = trained[fn.name]
            params = [p.name.value for p in (*fn.node.params.posonly_params, *fn.node.params.params)]
            inputs = {params[int(x)] if x.isdigit() and int(x) < len(params) else x for x in live}
            fn.context = Context("external", framework, inputs=frozenset(inputs & set(fn.params)))
            roots.append(fn)


def _mark_jax_transformed(model: "FileModel", roots, scopes: "Scopes") -> None:
    from gradscan.semantics.model import JAX_TRANSFORMS, Context

    if not (model.imports.uses("jax") or model.imports.uses("flax")):
        return  # no name in the file can resolve to a JAX transform

    def mark(fn):
        if fn is not None and fn.context is None:
            fn.context = Context("jax-grad", "jax")
            roots.append(fn)

    def partial_of_transform(expr) -> bool:
        return isinstance(expr, cst.Call) and model.callee(expr) == "functools.partial" and bool(expr.args) and model.resolve(expr.args[0].value) in JAX_TRANSFORMS

    for call, owner in model.calls:
        if partial_of_transform(call):
            # @partial(jax.grad, argnums=1): the decorated function is transformed
            parent = model.parent(call)
            if isinstance(parent, cst.Decorator):
                mark(model.function_of.get(model.parent(parent)))
            continue
        if partial_of_transform(call.func) and call.args:  # partial(jax.grad, argnums=1)(f)
            mark(function_value(model, owner, call.args[0].value, scopes))
            continue
        name = model.callee(call)
        if name not in JAX_TRANSFORMS:
            continue
        parent = model.parent(call)
        if isinstance(parent, cst.Decorator):  # @jax.value_and_grad(has_aux=True)
            mark(model.function_of.get(model.parent(parent)))
            continue
        if call.args and call.args[0].keyword is None:
            mark(function_value(model, owner, call.args[0].value, scopes))
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef):
            for d in fn.node.decorators:
                if model.resolve(d.decorator) in JAX_TRANSFORMS:
                    mark(fn)


def _mark_svi_functions(model: "FileModel", roots, scopes: "Scopes") -> None:
    """`SVI(model, guide, optim, loss)`: the ELBO is differentiated through both functions."""
    from gradscan.frameworks import names
    from gradscan.frameworks import pyro as pyro_api
    from gradscan.semantics.model import Context

    if not model.imports.uses("pyro"):
        return
    svi = names(pyro_api.SVI_CLASSES)
    for call, owner in model.calls:
        if model.callee(call) not in svi:
            continue
        for i, arg in enumerate(call.args[:2]):
            if arg.keyword is not None and arg.keyword.value not in ("model", "guide"):
                continue
            fn = function_value(model, owner, arg.value, scopes)
            if fn is not None and fn.context is None:
                fn.context = Context("forward", "torch")
                roots.append(fn)


def function_value(model: "FileModel", scope, expr: cst.BaseExpression, scopes: "Scopes", _depth: int = 0):
    """The function an expression denotes: a lambda, a name, `self.method`,
    `functools.partial(f, ...)`, a local bound once to one of these, or the inner function a
    factory of this file returns (`loss = make_loss(apply_fn)`, `jax.grad(make_loss(cfg))`);
    None when it cannot be told."""
    if _depth > 4:
        return None
    if isinstance(expr, cst.Lambda):
        return model.function_of.get(expr)
    if isinstance(expr, cst.Call) and model.callee(expr) == "functools.partial" and expr.args:
        return function_value(model, scope, expr.args[0].value, scopes, _depth + 1)
    if isinstance(expr, cst.Call) and model.resolve(expr.func) is None:
        factory = function_value(model, scope, expr.func, scopes, _depth + 1)
        return _returned_function(model, factory, scopes, _depth + 1) if factory is not None else None
    if isinstance(expr, cst.Name):
        found = scopes.lookup(scope, expr.value)
        if found is not None:
            return found
        owner = scope
        while owner is not None and expr.value not in owner.bindings:
            owner = owner.parent
        value = model.single_value(owner, expr.value) if owner is not None else None
        if value is None:
            return _unpacked_function(model, scope, expr, scopes, _depth + 1)
        if isinstance(value, cst.Name) and value.value == expr.value:
            return None
        return function_value(model, owner, value, scopes, _depth + 1)
    if isinstance(expr, cst.Attribute) and dotted(expr.value) == "self" and scope is not None and scope.cls is not None:
        return model.find_method(scope.cls, expr.attr.value)
    return None


def _unpacked_function(model: "FileModel", scope, name: cst.Name, scopes: "Scopes", depth: int):
    """`model, guide = make_pair(net)`: the function at that position of the tuple every `return`
    of the factory builds (`return model, guide` of two inner functions); None otherwise."""
    from gradscan.semantics.definitions import Definitions  # (definitions imports this module)

    bindings, _kind = model.get(Definitions).reaching(name, scope)
    if len(bindings) != 1:
        return None
    b = bindings[0]
    if b.index is None or b.kind != "name" or not isinstance(b.value, cst.Call) or model.resolve(b.value.func) is not None:
        return None
    factory = function_value(model, b.scope, b.value.func, scopes, depth)
    if factory is None or not isinstance(factory.node, cst.FunctionDef) or not factory.returns:
        return None
    found = None
    for ret in factory.returns:
        value = getattr(ret, "value", None)
        if not isinstance(value, (cst.Tuple, cst.List)) or b.index >= len(value.elements) \
                or any(isinstance(e, cst.StarredElement) for e in value.elements):
            return None
        fn = function_value(model, factory, value.elements[b.index].value, scopes, depth)
        if fn is None or (found is not None and fn is not found) or fn.parent is not factory:
            return None
        found = fn
    return found


def _returned_function(model: "FileModel", factory, scopes: "Scopes", depth: int):
    """The one function a factory returns (`def make_loss(...): def loss(...): ...; return loss`):
    every `return` of it denotes the same function of its own body."""
    if not isinstance(factory.node, cst.FunctionDef) or not factory.returns:
        return None
    found = None
    for ret in factory.returns:
        value = getattr(ret, "value", None)
        fn = function_value(model, factory, value, scopes, depth) if value is not None else None
        if fn is None or (found is not None and fn is not found) or fn.parent is not factory:
            return None
        found = fn
    return found


def _lookup_function(model: "FileModel", scope, name: str):
    """Kept for callers outside this module; `Scopes.lookup` is the indexed version."""
    return model.get(Scopes).lookup(scope, name)


def _calls_within(model: "FileModel", fn: "FunctionInfo"):
    return model.get(Scopes).calls_within(fn)


def called_function(model: "FileModel", fn: "FunctionInfo", call: cst.Call, scopes: Optional["Scopes"] = None):
    found = _called_directly(model, fn, call, scopes)
    # Through an object: `net.encode(x)`, `self.encoder.embed(x)`, `model(x)` (its forward).
    return found if found is not None else model.objects.called_function(call, fn)


def _called_directly(model: "FileModel", fn: "FunctionInfo", call: cst.Call, scopes: Optional["Scopes"] = None):
    scopes = scopes or model.get(Scopes)
    func = call.func
    if fn is None:
        return scopes.lookup(None, func.value) if isinstance(func, cst.Name) else None
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self" and fn.cls is not None:
        return model.find_method(fn.cls, func.attr.value)
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and dotted(func.value.func) == "super" and fn.cls is not None:
        for base in list(model.class_chain(fn.cls))[1:]:
            if func.attr.value in base.methods:
                return base.methods[func.attr.value]
        return None
    if isinstance(func, cst.Name):
        return scopes.lookup(fn, func.value)
    return None
