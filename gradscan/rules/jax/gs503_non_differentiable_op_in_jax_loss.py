from __future__ import annotations

from typing import Dict, Iterator, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.jax.helpers import uses_jax
from gradscan.semantics import classes as kinds, intent
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.facts import JAX_STOP_GRADIENT, JaxSources, Target, differentiated_params
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.walk import descendants
from gradscan.semantics.zero_gradient import ZeroGradient

STOP_GRADIENT_MESSAGE = (
    "stop_gradient cuts every path from the argument to the loss: its gradient is zero; apply it to the target"
)
DEAD_TERM_MESSAGE = (
    "stop_gradient leaves this whole loss term constant: it adds nothing to the gradient; apply it to the target"
)
REVERSED_STE_MESSAGE = (
    "straight-through written backwards: the gradient takes the rounded term (zero); write `x + stop_gradient(q - x)`"
)
FORWARD_CUT_MESSAGE = (
    "stop_gradient in the module's forward cuts the layers before it from the output: they never train"
)
AUX_ORDER_MESSAGE = (
    "has_aux=True differentiates the first element, a zero-gradient metric; the loss comes later: return (loss, aux)"
)


class NonDifferentiableOpInJaxLoss(Rule):
    code = "GS503"
    name = "non-differentiable-op-in-jax-loss"
    framework = "jax"
    summary = "`round`/`floor`/`sign`/`argmax`, a comparison, an integer cast or `stop_gradient` on the only path from a `jax.grad` argument to the loss: the gradient is silently zero"
    message = "op with a zero gradient is the only path from the argument to the loss; use a relaxation"
    explanation = (
        "jax.grad silently returns zeros through rounding, argmax, comparisons and integer casts: the "
        "differentiated argument gets no useful gradient."
    )
    hint = "use a differentiable relaxation (softmax, sigmoid) or the straight-through estimator `x + jax.lax.stop_gradient(jnp.round(x) - x)`"
    facts = ("jx42", "jx49")
    # a gradient transform: `jax.grad`, `value_and_grad`, `nnx.grad`, `J.grad(`, or `grad` imported by name,
    # or another differentiating transform (jx49)
    triggers = ("jax.grad", "value_and_grad", "nnx.grad", ".grad(", "import grad", ", grad\n", ", grad)", ", grad as", " grad,\n", "(grad,",
                "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize", "check_grads")
    doc = """
    ## What it does
    Flags `jnp.round`/`rint`/`floor`/`ceil`/`trunc`/`sign` (and `x.round()`, the `jax.lax`
    forms), `jnp.argmax`/`argmin`, comparisons (`x > 0`, `jnp.greater`) and casts to an
    integer or boolean dtype (`x.astype(jnp.int32)`, `lax.convert_element_type`) applied to a
    value computed from an argument that `jax.grad`, `jax.value_and_grad`, `nnx.grad` or
    `nnx.value_and_grad` differentiates, when the result flows as data into the returned loss
    (the first output with `has_aux=True`) and the loss depends on that argument through no
    other, differentiable, path. Helpers called by name are followed, values are tracked
    statement by statement (`pred = jnp.round(pred)` replaces `pred`). `jax.lax.stop_gradient`
    counts as such an operation: wrapped around the online prediction instead of the target
    (`q = stop_gradient(q_net(params, obs))`), it cuts every path to the loss. A tree map
    (`jax.tree.map`, `jax.tree_util.tree_map`) of one of these operations (`stop_gradient`,
    `jnp.round`, a lambda or a helper of the file applying it to the leaf) applies it to every
    leaf: `jax.tree.map(jax.lax.stop_gradient, params)` freezes the whole tree. The loss may be
    built by a factory of the file (`loss = make_loss(apply_fn)`) and differentiated elsewhere, and
    the forward it calls may be one a factory returned (`init_fn, apply_fn = frozen(layer)`, a
    stax-style wrapper whose returned apply function stops the gradient of its params). A `stop_gradient`
    is also reported when it leaves a whole additive term of the returned loss constant while
    another term is live (`loss = actor_loss + vf * critic_loss` with the actor's output cut):
    that term adds nothing to the gradient of any differentiated argument. With `has_aux=True`,
    a metric built only from argmax or a comparison returned first, in front of a scalar loss (a
    mean, a sum) that depends on the argument (`return accuracy, loss`), is reported on the
    returned tuple: the order is swapped and the metric is what gets differentiated. The
    straight-through estimator written backwards, `q + stop_gradient(x - q)` with `q` a rounding,
    sign or argmax of `x` (anywhere in a file that differentiates), is reported on its
    `stop_gradient`: the forward value is `x` but the gradient is the rounding's, zero. The Jacobians and
    the Hessian (`jax.jacrev`, `jacfwd`, `hessian`) count like `jax.grad`; a primal transform
    (`jax.vjp`, `jvp`, `linearize`, `check_grads`) differentiates every argument it passes, data
    included, so there an operation is reported when it cuts two or more of them at once (the
    prediction from the weights and the inputs), or the only one (fact jx49). Inside a Flax
    module's forward (a Linen or nnx `__call__`, or a helper of the file it calls), a
    `stop_gradient` of a value the module's own layers computed (`self.encoder(x)`,
    `nn.Dense(8)(x)` in a compact `__call__`, an `nnx.Param`) is reported when its result
    reaches what the forward returns and those layers reach the return by no other path: no
    loss of the module's output can train them.

    ## Why it breaks gradients
    These operations are piecewise constant. JAX differentiates them anyway and returns a
    gradient of exactly zero: no error, no `None`, no warning (fact jx42; TensorFlow returns
    `None` and PyTorch raises for some of them). When they are the only path to the loss,
    `jax.grad` returns zeros for every parameter before them and the optimizer never moves
    them. A loss that is itself an integer (a `jnp.sum` of booleans) raises instead and is
    not reported.

    Not flagged: the same operations used as indices, masks or conditions
    (`jnp.take_along_axis(logp, jnp.argmax(...))`, `jnp.where(x > 0, a, b)`, `x[mask]`,
    `one_hot(argmax(q)) * q`), a term through them beside a differentiable path of the same
    argument (`mse + 0.1 * jnp.round(pred).mean()`: the gradient is partial, not zero; the rule
    cannot tell which leaves of a parameter pytree only reach the loss through the term),
    metrics returned as `has_aux` output, values of arguments that are not differentiated
    (labels, batch, keys, `argnums`), the straight-through estimator
    `x + lax.stop_gradient(jnp.round(x) - x)`, `stop_gradient` on a target or on part of the
    network beside a differentiable path of the same argument (BYOL, a frozen backbone under a
    trained head), a term that is itself `stop_gradient(a - b)` (a reported value carried on
    another term's gradient), a cut term weighted by a live coefficient, shapes, sizes
    and counts, functions with a custom gradient (`jax.custom_vjp`, `custom_jvp`), and code
    that no gradient transform differentiates (`jit` alone). In a Flax forward: the
    straight-through estimator, a cut of a feature returned beside the head computed from it,
    target, teacher and EMA branches, configured cuts (`if self.freeze_backbone:`),
    normalisation by a cut statistic of a live value, and cuts of the raw input.

    ## Example
    ```python
    def loss_fn(params, x, y):
        pred = x @ params["w"]
        q = jnp.round(pred)
        return jnp.mean((q - y) ** 2)

    grads = jax.grad(loss_fn)(params, x, y)  # all zeros
    ```

    ## Use instead
    ```python
    def loss_fn(params, x, y):
        pred = x @ params["w"]
        q = pred + jax.lax.stop_gradient(jnp.round(pred) - pred)  # straight-through
        return jnp.mean((q - y) ** 2)
    ```

    For a class decision, train on the logits (`optax.softmax_cross_entropy`) and keep
    `argmax` for metrics.

    ## References
    - JAX docs: "Automatic differentiation", `jax.lax.stop_gradient`
    - Bengio, Léonard, Courville 2013, "Estimating or propagating gradients through stochastic neurons" (straight-through)
    - gradscan facts: jx42, jx49
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp
        import optax

        def loss_fn(params, x, y):
            pred = x @ params["w"]
            q = jnp.round(pred)  # error: GS503
            return jnp.mean((q - y) ** 2)

        grads = jax.grad(loss_fn)(params, x, y)

        def cls_loss(params, x, labels):
            logits = x @ params["w"]
            hard = jax.nn.one_hot(jnp.argmax(logits, -1), 10)  # error: GS503
            return optax.l2_loss(hard, jax.nn.one_hot(labels, 10)).mean()

        loss, grads = jax.value_and_grad(cls_loss)(params, x, labels)
        """,
        """
        import jax
        import jax.numpy as jnp

        @jax.jit
        def train_step(params, x, y):
            def loss_fn(p):
                fired = (x @ p["w"] > 0).astype(jnp.float32)  # error: GS503
                return jnp.mean((fired - y) ** 2)
            return jax.grad(loss_fn)(params)
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp
        import optax

        def loss_fn(params, x, y):
            pred = x @ params["w"]
            q = pred + jax.lax.stop_gradient(jnp.round(pred) - pred)
            return jnp.mean((q - y) ** 2)

        def ce_loss(params, x, labels):
            logits = x @ params["w"]
            logp = jax.nn.log_softmax(logits)
            greedy = jnp.take_along_axis(logp, jnp.argmax(logits, -1)[:, None], -1)
            relu = jnp.where(logits > 0, logits, 0.0)
            loss = -jnp.mean(greedy) + 0.1 * jnp.mean(relu) + 0.01 * jnp.round(logits).mean()
            acc = jnp.mean(jnp.argmax(logits, -1) == labels)
            return loss, {"acc": acc, "n": labels.shape[0]}

        (loss, aux), grads = jax.value_and_grad(ce_loss, has_aux=True)(params, x, labels)

        def weighted(params, x, y):
            mask = (y > 0).astype(jnp.float32)
            n = jnp.sum(mask).astype(jnp.int32)
            return jnp.sum((x @ params["w"] - y) ** 2 * mask) / n

        jax.grad(weighted)(params, x, y)

        @jax.jit
        def predict(params, x):
            return jnp.argmax(x @ params["w"], -1)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model):
            return
        targets = model.get(JaxSources).targets
        if not targets:
            return
        zg = model.get(ZeroGradient)  # the engine's zero-gradient dependence (`semantics.zero_gradient`)
        reported: Set[int] = set()
        yield from self._reversed_straight_through(model, zg, reported)
        yield from self._forward_cuts(model, reported)
        for target in targets.values():
            fn = target.fn
            if zg.has_custom_gradient(fn):
                continue
            params = differentiated_params(target)
            if target.every_primal and params and len(params) > 1:
                yield from self._shared_cuts(zg, target, params, reported)
                continue
            for param in sorted(params or ()):
                ops = zg.zero_ops(target, param)
                # only a metric (argmax, a comparison) in front of a loss: the order was swapped
                metric = ops and all(isinstance(op, cst.Comparison) or zg.op_kind(op)[0] == "int" for op in ops)
                swapped = zg.aux_first(target, param) if metric else None
                if swapped is not None:
                    if id(swapped) not in reported:
                        reported.add(id(swapped))
                        yield Report(swapped, AUX_ORDER_MESSAGE)
                    continue
                for op in ops:
                    if id(op) not in reported:
                        reported.add(id(op))
                        if zg.is_cut(op):
                            yield Report(op.func, STOP_GRADIENT_MESSAGE)
                        else:
                            yield Report(op.func if isinstance(op, cst.Call) else op)
            for op in zg.dead_term_cuts(target, params or set()):
                if id(op) not in reported:
                    reported.add(id(op))
                    yield Report(op.func, DEAD_TERM_MESSAGE)

    @staticmethod
    def _forward_cuts(model: FileModel, reported: Set[int]) -> Iterator[Report]:
        """`stop_gradient` inside a Flax module's forward (`__call__` or a helper it calls) on a
        value computed by the module's own layers, whose result the forward returns, when those
        layers reach the return by no other path: they get no gradient from any loss of the
        module's output (the JAX side of a `.detach()` in a torch forward)."""
        for call, fn in model.calls:
            if fn is None or id(call) in reported or model.callee(call) not in JAX_STOP_GRADIENT or not call.args:
                continue
            ctx = fn.context
            if ctx is None or ctx.framework != "jax" or ctx.kind not in ("forward", "helper"):
                continue
            forward = fn if ctx.kind == "forward" else ctx.root
            if forward is None or forward.context is None or forward.context.kind != "forward" or forward.cls is None:
                continue
            receiver = call.args[0].value
            upstream = _layer_sources(model, receiver, fn, set(), 0)
            if not upstream:
                continue
            trace = model.flow.reaches_output(call)
            if trace is None or trace.sink != "return":
                continue
            skip = {id(call)}
            if fn is not forward:
                skip |= {id(c) for c, _o in model.objects.callers_of(fn)}
            other: Set[str] = set()
            for holder in {id(fn): fn, id(forward): forward}.values():
                for ret in holder.returns:
                    if getattr(ret, "value", None) is not None:
                        other |= _layer_sources(model, ret.value, holder, skip, 0)
            if upstream & other:
                continue  # straight-through, normalisation, a feature returned beside its head
            if intent.intentional_cut(model, call, receiver, trace):
                continue
            reported.add(id(call))
            yield Report(call.func, FORWARD_CUT_MESSAGE)

    @staticmethod
    def _reversed_straight_through(model: FileModel, zg: ZeroGradient, reported: Set[int]) -> Iterator[Report]:
        """`q + stop_gradient(x - q)` with `q` a rounding (argmax, sign, ...) of `x`: the forward
        value is `x` and the gradient is `q`'s, which is zero. The straight-through estimator
        swapped: `x + stop_gradient(q - x)` was meant. Wherever it is written (a helper, a
        method): it zeroes the gradient of `x` under any transform."""
        for node in model.get(_Adds).nodes:
            for sg, other in ((node.right, node.left), (node.left, node.right)):
                if not (isinstance(sg, cst.Call) and model.callee(sg) in JAX_STOP_GRADIENT and sg.args):
                    continue
                inner = sg.args[0].value
                if not (isinstance(inner, cst.BinaryOperation) and isinstance(inner.operator, cst.Subtract)):
                    continue
                if not inner.right.deep_equals(other) or id(sg) in reported:
                    continue
                fn = model.enclosing_function(node)
                value = model.single_value(fn, other.value) if isinstance(other, cst.Name) and fn is not None else other
                reads = {n.value for n in descendants(inner.left) if isinstance(n, cst.Name)}
                if isinstance(inner.left, cst.Name):
                    reads.add(inner.left.value)
                if value is None or not reads:
                    continue
                for op in [value, *descendants(value)]:
                    found = zg.op_kind(op)
                    if found is None or zg.is_cut(op) or found[0] is None:
                        continue
                    if any(isinstance(n, cst.Name) and n.value in reads for i in found[1] for n in (i, *descendants(i))):
                        # the rounding is this estimator's, reported here, not on its own
                        reported.update({id(sg), id(op)})
                        yield Report(sg.func, REVERSED_STE_MESSAGE)
                        break
                break

    @staticmethod
    def _shared_cuts(zg, target: Target, params: Set[str], reported: Set[int]) -> Iterator[Report]:
        """A primal transform (`jax.vjp(f, params, x, y)`) differentiates every argument, data
        included, so an op that zeroes one argument's derivative may be the caller leaving data
        out (`stop_gradient(y)`, `jnp.round(x)`). An op that zeroes two or more arguments'
        derivatives at once (`stop_gradient(apply(params, x))`) cuts a computation of them."""
        ops: Dict[int, Tuple[cst.CSTNode, int, str]] = {}
        for param in sorted(params):
            for op in zg.zero_ops(target, param):
                node, count, kind = ops.get(id(op), (op, 0, "zero"))
                ops[id(op)] = (node, count + 1, kind)
            for op in zg.dead_term_cuts(target, {param}):
                node, count, _kind = ops.get(id(op), (op, 0, "dead"))
                ops[id(op)] = (node, count + 1, "dead")
        for key, (op, count, kind) in ops.items():
            if count < 2 or key in reported:
                continue
            reported.add(key)
            if kind == "dead":
                yield Report(op.func, DEAD_TERM_MESSAGE)
            elif zg.is_cut(op):
                yield Report(op.func, STOP_GRADIENT_MESSAGE)
            else:
                yield Report(op.func if isinstance(op, cst.Call) else op)


class _Adds:
    """The file's `a + b` expressions, found once per file (`model.get(_Adds)`)."""

    def __init__(self, model: FileModel) -> None:
        self.nodes = [n for n in descendants(model.module)
                      if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Add)]


FLAX_LAYERS = ("flax.linen.", "flax.nnx.")


def _layer_sources(model: FileModel, expr: cst.CSTNode, fn: Optional[FunctionInfo], skip: Set[int], depth: int) -> Set[str]:
    """The layers and parameters of a Flax module a value in its forward is computed from,
    through any operation (cuts included): `self.encoder(x)`, `nn.Dense(4)(x)` in a compact
    `__call__`, `self.param(...)`, an `nnx.Param` attribute; a helper's parameter takes what
    the forward passes it. Subtrees in `skip` are left out."""
    if depth > 12 or id(expr) in skip:
        return set()
    out: Set[str] = set()
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self" and fn is not None:
            if func.attr.value == "param":
                out.add(f"param@{model.flow.order(expr)}")
            elif _layer_attr(model, _method_owner(fn), func.attr.value):
                out.add(f"self.{func.attr.value}")
        elif isinstance(func, cst.Call) and (model.callee(func) or "").startswith(FLAX_LAYERS):
            out.add(f"layer@{model.flow.order(func)}")  # `nn.Dense(4)(x)` in a compact __call__
    elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self" and fn is not None:
        if _layer_attr(model, _method_owner(fn), expr.attr.value, params_only=True):
            out.add(f"self.{expr.attr.value}")
        return out
    elif isinstance(expr, cst.Name) and fn is not None:
        defs, kind = model.get(Definitions).reaching(expr, fn)
        if kind == "param":
            owner = model.get(Definitions).parameter_of(expr, fn)
            if owner is not None and owner.context is not None and owner.context.kind == "helper":
                for call, caller in model.objects.callers_of(owner)[:4]:
                    arg = argument_for(owner, call, expr.value)
                    if arg is not None:
                        out |= _layer_sources(model, arg, caller, skip, depth + 1)
            return out
        for d in defs[:4]:
            if d.value is not None and d.kind in ("name", "walrus", "item"):
                out |= _layer_sources(model, d.value, d.scope or fn, skip, depth + 1)
        return out
    for child in expr.children:
        if isinstance(child, (cst.BaseExpression, cst.Arg, cst.Element, cst.DictElement, cst.BaseSlice, cst.SubscriptElement)):
            out |= _layer_sources(model, child, fn, skip, depth + 1)
    return out


def _method_owner(fn: Optional[FunctionInfo]):
    while fn is not None and fn.cls is None:
        fn = fn.parent
    return fn.cls if fn is not None else None


# Flax objects without weights of their own
WEIGHTLESS = {"flax.nnx.Dropout", "flax.linen.Dropout", "flax.nnx.Rngs", "flax.nnx.Variable", "flax.nnx.BatchStat",
              "flax.nnx.Cache", "flax.nnx.Intermediate"}


def _layer_attr(model: FileModel, cls, attr: str, params_only: bool = False) -> bool:
    """`self.<attr>` holds a Flax layer (a `flax.linen`/`flax.nnx` module or a Flax module class of
    this file) or, with `params_only`, an `nnx.Param`."""
    if cls is None:
        return False
    for owner in model.class_chain(cls):
        for name, value, _node, _method in owner.self_assigns:
            if name != attr or not isinstance(value, cst.Call):
                continue
            callee = model.callee(value) or ""
            if callee.startswith("flax.nnx.") and callee.endswith("Param"):
                return True
            if params_only or callee in WEIGHTLESS:
                continue
            if callee.startswith(FLAX_LAYERS):
                return True
            local = model.classes.get(value.func.value) if isinstance(value.func, cst.Name) else None
            if local is not None and local.kind in (kinds.FLAX_LINEN, kinds.FLAX_NNX):
                return True
    return False
