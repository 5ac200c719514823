"""Differentiable contexts: which code computes values that gradients flow through.

Roots: `forward`/`__call__`/`training_step` of torch modules (plus configured names), `call`/
`train_step` of Keras layers, `__call__` of Flax and tf.Module classes, functions handed to JAX's
differentiation transforms, functions that call `.backward()` or `tape.gradient`, and the bodies of
`tf.GradientTape` blocks. A method or module-level function a root calls is a context too, whatever
its name. Not differentiable on purpose: `torch.no_grad()`/`inference_mode()` blocks, functions
decorated with them, and `if not self.training:` branches.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libcst as cst

from gradscan.semantics import classes as kinds
from gradscan.semantics.names import dotted

if TYPE_CHECKING:
    from gradscan.semantics.model import Context, FileModel, FunctionInfo

BACKWARD_METHODS = {"backward", "manual_backward"}
INFERENCE_NAMES = {"generate", "sample", "predict", "evaluate", "validation_step", "test_step", "predict_step", "inference"}


def _no_grad_call(model: "FileModel", expr: cst.BaseExpression) -> bool:
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`."""
    if isinstance(expr, cst.Call):
        name = model.resolve(expr.func)
        if name in ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad"):
            return not (name == "torch.inference_mode" and expr.args and _is_false(expr.args[0].value))
        if name in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled"):
            return bool(expr.args) and _is_false(expr.args[0].value)
    else:
        return model.resolve(expr) in ("torch.no_grad", "torch.inference_mode")
    return False


def _is_false(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def is_no_grad_with(model: "FileModel", node: cst.With) -> bool:
    return any(_no_grad_call(model, item.item) for item in node.items)


def has_no_grad_decorator(model: "FileModel", fn: "FunctionInfo") -> bool:
    node = fn.node
    if not isinstance(node, cst.FunctionDef):
        return False
    return any(_no_grad_call(model, d.decorator) for d in node.decorators)


def is_gradient_tape(model: "FileModel", expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and model.resolve(expr.func) in ("tensorflow.GradientTape", "tensorflow.autodiff.GradientTape")


def _training_test(expr: cst.BaseExpression) -> Optional[bool]:
    """True for `self.training`, False for `not self.training`, None otherwise."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        inner = _training_test(expr.expression)
        return None if inner is None else not inner
    text = dotted(expr)
    if text in ("self.training", "training", "self.is_training", "is_training", "train"):
        return True
    return None


def in_eval_branch(model: "FileModel", node: cst.CSTNode) -> bool:
    """Inside `if not self.training:`, or the `else` of `if self.training:`."""
    child = node
    for anc in model.ancestors(node):
        if isinstance(anc, cst.If):
            polarity = _training_test(anc.test)
            if polarity is not None:
                in_body = child is anc.body
                if (polarity and not in_body and child is not anc.test) or (not polarity and in_body):
                    return True
        elif isinstance(anc, cst.IfExp):
            polarity = _training_test(anc.test)
            if polarity is not None and ((polarity and child is anc.orelse) or (not polarity and child is anc.body)):
                return True
        elif isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            return False
        child = anc
    return False


def in_no_grad_block(model: "FileModel", node: cst.CSTNode) -> bool:
    for anc in model.ancestors(node):
        if isinstance(anc, cst.With) and is_no_grad_with(model, anc):
            return True
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            return False
    return False


def context_of(model: "FileModel", node: cst.CSTNode) -> Optional["Context"]:
    from gradscan.semantics.model import Context

    if in_no_grad_block(model, node) or in_eval_branch(model, node):
        return None
    fn = model.enclosing_function(node)
    while fn is not None:
        if fn.context is not None:
            return fn.context
        fn = fn.parent
    for anc in model.ancestors(node):
        if isinstance(anc, cst.With) and any(is_gradient_tape(model, i.item) for i in anc.items):
            return Context("tape", "tensorflow")
    return None


def assign_contexts(model: "FileModel") -> None:
    from gradscan.semantics.model import Context

    extra = set(model.settings.forward_methods) if model.settings else set()
    roots = []
    for fn in model.functions:
        if has_no_grad_decorator(model, fn):
            continue
        ctx = _root_context(model, fn, extra)
        if ctx is not None:
            fn.context = ctx
            roots.append(fn)
    _mark_jax_transformed(model, roots)
    # Whatever a root calls is a context too: `self.encode(x)`, `helper(x)`, `super().forward(x)`.
    todo = list(roots)
    while todo:
        fn = todo.pop()
        for call in _calls_within(model, fn):
            target = _called_function(model, fn, call)
            if target is not None and target.context is None and not has_no_grad_decorator(model, target):
                target.context = Context("helper", fn.context.framework, fn.context.root or fn)
                todo.append(target)
    for node, _fn in model.withs:
        if any(is_gradient_tape(model, i.item) for i in node.items):
            model.tape_blocks.append(node)


def _root_context(model: "FileModel", fn: "FunctionInfo", extra) -> Optional["Context"]:
    from gradscan.semantics.model import Context

    if fn.is_method and fn.cls.kind is not None:
        kind = fn.cls.kind
        if kind == kinds.TORCH and (fn.name in kinds_torch_roots() or fn.name in extra):
            return Context("training-step" if fn.name == "training_step" else "forward", "torch")
        if kind in (kinds.KERAS, kinds.KERAS_LEGACY) and (fn.name in ("call", "train_step", "compute_loss") or fn.name in extra):
            return Context("keras-call", "tensorflow")
        if kind == kinds.TF_MODULE and fn.name == "__call__":
            return Context("keras-call", "tensorflow")
        if kind in (kinds.FLAX_LINEN, kinds.FLAX_NNX) and fn.name == "__call__":
            return Context("forward", "jax")
    for call in fn.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in BACKWARD_METHODS:
            return Context("loss", "torch")
        if isinstance(func, cst.Attribute) and func.attr.value == "gradient" and _is_tape_name(model, fn, func.value):
            return Context("loss", "tensorflow")
    return None


def kinds_torch_roots():
    from gradscan.semantics.model import TORCH_ROOTS

    return TORCH_ROOTS


def _is_tape_name(model: "FileModel", fn: "FunctionInfo", expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Name):
        return False
    for node, _ in model.withs:
        for item in node.items:
            if item.asname is not None and isinstance(item.asname.name, cst.Name) and item.asname.name.value == expr.value and is_gradient_tape(model, item.item):
                return True
    return False


def _mark_jax_transformed(model: "FileModel", roots) -> None:
    from gradscan.semantics.model import JAX_TRANSFORMS, Context

    def mark(fn):
        if fn is not None and fn.context is None:
            fn.context = Context("jax-grad", "jax")
            roots.append(fn)

    for call, owner in model.calls:
        name = model.callee(call)
        if name == "functools.partial" and call.args and model.resolve(call.args[0].value) in JAX_TRANSFORMS:
            # @partial(jax.grad, argnums=1): the decorated function is transformed
            parent = model.parent(model.parent(call))
            if isinstance(parent, cst.FunctionDef):
                mark(model.function_of.get(parent))
            continue
        if name not in JAX_TRANSFORMS:
            continue
        parent = model.parent(call)
        if isinstance(parent, cst.Decorator):
            mark(model.function_of.get(model.parent(parent)))
            continue
        if call.args:
            mark(_function_value(model, owner, call.args[0].value))
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef):
            for d in fn.node.decorators:
                if model.resolve(d.decorator) in JAX_TRANSFORMS:
                    mark(fn)


def _function_value(model: "FileModel", scope, expr: cst.BaseExpression):
    """The function an expression denotes: a lambda, a name, or `functools.partial(f, ...)`."""
    if isinstance(expr, cst.Lambda):
        return model.function_of.get(expr)
    if isinstance(expr, cst.Call) and model.callee(expr) == "functools.partial" and expr.args:
        return _function_value(model, scope, expr.args[0].value)
    if isinstance(expr, cst.Name):
        return _lookup_function(model, scope, expr.value)
    return None


def _lookup_function(model: "FileModel", scope, name: str):
    # Inner functions of the enclosing scopes first, then the module's.
    while scope is not None:
        for fn in model.functions:
            if fn.parent is scope and fn.name == name:
                return fn
        scope = scope.parent
    return model.module_functions.get(name)


def _calls_within(model: "FileModel", fn: "FunctionInfo"):
    yield from fn.calls
    for other in model.functions:  # nested defs and lambdas belong to their root's context
        p = other.parent
        while p is not None and p is not fn:
            p = p.parent
        if p is fn:
            yield from other.calls


def _called_function(model: "FileModel", fn: "FunctionInfo", call: cst.Call):
    func = call.func
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self" and fn.cls is not None:
        return model.find_method(fn.cls, func.attr.value)
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and dotted(func.value.func) == "super" and fn.cls is not None:
        for base in list(model.class_chain(fn.cls))[1:]:
            if func.attr.value in base.methods:
                return base.methods[func.attr.value]
        return None
    if isinstance(func, cst.Name):
        return _lookup_function(model, fn, func.value)
    return None
