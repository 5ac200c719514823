from __future__ import annotations

from typing import Iterator, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import is_name
from gradscan.semantics.arguments import keyword_argument
from gradscan.semantics import classes as kinds
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.model import FileModel, FunctionInfo

NNX_VARIABLE = {"flax.nnx.Variable", "flax.nnx.variablelib.Variable", "flax.nnx.variables.Variable"}
# jax.random samplers used to initialise weights.
RANDOM_INITS = {
    "normal", "uniform", "truncated_normal", "orthogonal", "multivariate_normal", "laplace", "logistic",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform", "variance_scaling",
}
INITIALIZER_PACKAGES = ("jax.nn.initializers.", "flax.nnx.initializers.", "flax.linen.initializers.", "flax.nnx.nn.initializers.")
# Array methods that keep a weight a weight.
KEEPING_METHODS = {"astype", "reshape", "T", "transpose", "squeeze"}
# Names (split into word tokens) of attributes or classes that hold fixed random values on
# purpose: random Fourier features, fixed projections, noise, masks, buffers.
FIXED_TOKENS = {
    "fourier", "rff", "random", "rand", "fixed", "frozen", "freeze", "const", "constant", "noise", "mask",
    "buffer", "seed", "key", "keys", "rng", "rngs", "sketch", "hash", "hashing", "basis", "static", "untrained",
    "nontrainable", "non", "ema", "target", "teacher", "running", "stat", "stats", "cache", "cached",
}


def _key_like(model: FileModel, expr: cst.BaseExpression) -> bool:
    """`rngs.params()`, `rngs()`, `rngs.default()`, `key`, `rng`, `init_key`, `jax.random.key(0)`,
    `jax.random.split(key)[0]`."""
    if isinstance(expr, cst.Subscript):
        expr = expr.value
    if isinstance(expr, cst.Call):
        name = model.callee(expr) or ""
        if name in ("jax.random.PRNGKey", "jax.random.key", "jax.random.split", "jax.random.fold_in"):
            return True
        func = expr.func
        if isinstance(func, cst.Attribute) and "rngs" in (dotted(func.value) or "").split("."):
            return True
        if isinstance(func, cst.Name) and func.value == "rngs":
            return True
        return False
    text = dotted(expr)
    return text is not None and bool(tokens(text.rsplit(".", 1)[-1]) & {"key", "rng", "prng"})


def _weight_built(model: FileModel, expr: cst.BaseExpression, fn: Optional[FunctionInfo], depth: int = 0) -> bool:
    """The value is built like a weight: a random initializer, an initializer called with a
    key, anything drawn from `rngs.params()`, scaled or cast."""
    if depth > 4:
        return False
    if isinstance(expr, cst.BinaryOperation):
        return _weight_built(model, expr.left, fn, depth + 1) or _weight_built(model, expr.right, fn, depth + 1)
    if isinstance(expr, cst.Name) and fn is not None:
        value = model.single_value(fn, expr.value)
        return value is not None and _weight_built(model, value, fn, depth + 1)
    if not isinstance(expr, cst.Call):
        return False
    func = expr.func
    if isinstance(func, cst.Attribute) and func.attr.value in KEEPING_METHODS and model.resolve(func) is None:
        return _weight_built(model, func.value, fn, depth + 1)
    name = model.callee(expr) or ""
    if name in ("jax.numpy.asarray", "jax.numpy.array") and expr.args:
        return _weight_built(model, expr.args[0].value, fn, depth + 1)
    if name.startswith("jax.random."):
        return name.rsplit(".", 1)[-1] in RANDOM_INITS
    if name.startswith(INITIALIZER_PACKAGES):
        return bool(expr.args) and _key_like(model, expr.args[0].value)  # initializers.zeros(key, shape)
    if isinstance(func, cst.Call):  # nnx.initializers.lecun_normal()(key, shape)
        inner = model.callee(func) or ""
        if inner.startswith(INITIALIZER_PACKAGES):
            return True
    if expr.args and expr.args[0].keyword is None and _key_like(model, expr.args[0].value):
        # kernel_init(rngs.params(), shape), self.init_fn(key, shape)
        last = (dotted(func) or "").rsplit(".", 1)[-1]
        if tokens(last) & {"init", "initializer", "initialiser"}:
            return True
    return any(a.keyword is None and _is_params_stream(a.value) for a in expr.args)


def _is_params_stream(expr) -> bool:
    """`rngs.params()`: the stream meant for parameters."""
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "params" and (dotted(expr.func.value) or "").endswith("rngs")


class NnxWeightNotParam(Rule):
    code = "GS502"
    name = "nnx-weight-not-param"
    framework = "jax"
    summary = "A weight of a flax.nnx Module stored as a raw array or `nnx.Variable` (or a raw array in a Linen `setup()`) is never trained: use `nnx.Param` / `self.param`"
    message = "this weight is not an nnx.Param, so it never trains; wrap it in nnx.Param(...)"
    explanation = (
        "nnx.grad and nnx.Optimizer differentiate and update only nnx.Param by default: a weight held as a raw "
        "array or a plain nnx.Variable gets no gradient."
    )
    hint = "wrap it in `nnx.Param(...)`"
    facts = ("jx44",)
    triggers = ("nnx", "linen")
    doc = """
    ## What it does
    Flags an attribute of a `flax.nnx` Module assigned in `__init__` a value built like a
    weight (`jax.random.normal/uniform/truncated_normal(...)`, an `nnx.initializers` /
    `jax.nn.initializers` initializer called with a key, anything drawn from `rngs.params()`),
    either as a raw JAX array or wrapped in `nnx.Variable(...)`, when `__call__` (or a method
    it calls) reads it and no method writes it. Also an array of zeros (`jnp.zeros(...)`) that
    `__call__` adds or subtracts, or of ones (`jnp.ones(...)`) that it multiplies with: as a
    constant that term would be the identity, so it is a bias or a scale meant to be learned;
    and any constant array (`jnp.zeros`, `jnp.ones`, `jnp.full`, `jnp.log(jnp.array(1 / 0.07))`)
    that `__call__` reads through `jnp.exp`, `jax.nn.sigmoid` or `softplus` and multiplies or
    divides with: a gate or log-temperature nobody stores as a constant. The value may be built by a helper of the file or a
    method (`self.gate = make_gate(dim)`): the finding goes to what the helper returns. The same
    for an attribute a Linen module's `setup()` assigns a raw array: it is no variable, so
    `init` never puts it in params.

    ## Why it breaks gradients
    NNX keeps raw arrays on a Module and `nnx.Variable` is a valid state container, but
    `nnx.grad`, `nnx.value_and_grad` and `nnx.Optimizer` select `nnx.Param` by default: the
    gradient state has an entry for the `nnx.Param` only, so the raw array and the
    `nnx.Variable` get no gradient and are never updated, silently (fact jx44). The model
    trains with that weight frozen at its random initial value. A Linen module's variables are
    only what `self.param` / `self.variable` declare: an array assigned in `setup()` is a
    plain attribute, `init` returns no entry for it and `jax.grad` of the params never reaches it.

    Not flagged: `nnx.Param` and its subclasses (`nnx.LoRAParam`), state meant to stay out of
    the gradient (`nnx.BatchStat`, `nnx.Cache`, `nnx.Intermediate` and other `nnx.Variable`
    subclasses), counters (`nnx.Variable(0)`), constants and buffers (`jnp.ones` masks,
    `jnp.zeros` padding that is joined, not added, positional tables, `jnp.sqrt(d)` scales,
    arrays the script sets by hand, `model.shift = loaded`, `model.log_tau.value = annealed`,
    plain Python numbers such as `math.log(0.5)`), `nnx.Rngs`, values a method updates (EMA
    codebooks), arrays `__call__` never reads, attributes and classes named for fixed random
    values (random Fourier features, fixed projections, noise), files that select
    `nnx.Variable` for differentiation (`nnx.DiffState`, `wrt=`), and Linen's `self.param` /
    `self.variable` and arrays built inside an `nn.compact` `__call__`.

    ## Example
    ```python
    class Scale(nnx.Module):
        def __init__(self, dim, rngs: nnx.Rngs):
            self.linear = nnx.Linear(dim, dim, rngs=rngs)
            self.gamma = jax.random.normal(rngs.params(), (dim,))

        def __call__(self, x):
            return self.linear(x) * self.gamma
    ```

    ## Use instead
    ```python
    class Scale(nnx.Module):
        def __init__(self, dim, rngs: nnx.Rngs):
            self.linear = nnx.Linear(dim, dim, rngs=rngs)
            self.gamma = nnx.Param(jax.random.normal(rngs.params(), (dim,)))

        def __call__(self, x):
            return self.linear(x) * self.gamma
    ```

    ## References
    - Flax docs: "Flax basics" (NNX), `nnx.Param`, `nnx.Variable`, filters and `nnx.DiffState`
    - gradscan facts: jx44
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp
        from flax import nnx

        class Scale(nnx.Module):
            def __init__(self, dim, rngs: nnx.Rngs):
                self.linear = nnx.Linear(dim, dim, rngs=rngs)
                self.gamma = jax.random.normal(rngs.params(), (dim,))  # error: GS502
                init = nnx.initializers.lecun_normal()
                self.w = nnx.Variable(init(rngs.params(), (dim, dim)))  # error: GS502

            def __call__(self, x):
                return self.linear(x) @ self.w * self.gamma
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp
        from flax import nnx
        import flax.linen as nn

        class Block(nnx.Module):
            def __init__(self, dim, rngs: nnx.Rngs):
                self.w = nnx.Param(jax.random.normal(rngs.params(), (dim, dim)))
                self.mean = nnx.BatchStat(jnp.zeros(dim))
                self.count = nnx.Variable(jnp.array(0))
                self.mask = jnp.tril(jnp.ones((dim, dim)))
                self.scale = jnp.sqrt(dim)
                self.rngs = rngs
                self.unused = jax.random.normal(rngs.params(), (dim,))

            def __call__(self, x):
                self.count.value += 1
                return (x @ self.w) * self.mask[0] / self.scale - self.mean

        class FourierFeatures(nnx.Module):
            def __init__(self, dim, rngs: nnx.Rngs):
                self.B = jax.random.normal(rngs.params(), (2, dim)) * 10.0

            def __call__(self, x):
                return jnp.sin(x @ self.B)

        class Dense(nn.Module):
            @nn.compact
            def __call__(self, x):
                w = self.param("w", nn.initializers.lecun_normal(), (x.shape[-1], 3))
                return x @ w
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        classes = [c for c in model.class_list if c.kind in (kinds.FLAX_NNX, kinds.FLAX_LINEN)]
        if not classes:
            return
        variable_grads = None
        reported: Set[int] = set()  # one helper's value, stored by several attributes
        for cls in classes:
            linen = cls.kind == kinds.FLAX_LINEN
            init_name = "setup" if linen else "__init__"  # where a Linen module builds its attributes
            init = cls.methods.get(init_name)
            if init is None or tokens(cls.name) & FIXED_TOKENS:
                continue
            for attr, value, node, method in cls.self_assigns:
                if method != init_name or tokens(attr) & FIXED_TOKENS:
                    continue
                built_in = init
                made = _made_by_helper(model, value, init)
                if made is not None:  # `self.gate = make_gate(dim)`: what the helper returns
                    value, built_in = made
                    if id(value) in reported:
                        continue
                wrapped = isinstance(value, cst.Call) and model.callee(value) in NNX_VARIABLE
                inner = value.args[0].value if wrapped and value.args else value
                if wrapped and not value.args:
                    continue
                identity = _identity_constant(model, inner)
                if not _weight_built(model, inner, built_in) and identity is None:
                    continue
                if linen and wrapped:
                    continue
                if not self._read_in_call(model, cls, attr, init_name) or self._written(model, cls, attr, init_name):
                    continue
                if not _weight_built(model, inner, built_in) and (
                        sum(1 for a in cls.self_assigns if a[0] == attr) > 1  # `else: self.bias = jnp.zeros(d)`: no bias
                        or not self._applied_as_identity(model, cls, attr, identity, init_name)):
                    continue
                reported.add(id(value))
                if linen:
                    yield Report(value, f"weight `self.{clip(attr, 24)}` set in Linen setup() is a raw array, not a param: "
                                        f"it never trains; use self.param")
                    continue
                if wrapped:
                    if variable_grads is None:
                        variable_grads = _selects_variables(model)
                    if variable_grads:
                        continue
                yield Report(value, self._message(attr, wrapped))

    @staticmethod
    def _message(attr: str, wrapped: bool) -> str:
        if wrapped:
            return f"weight `self.{clip(attr, 24)}` is an nnx.Variable, not an nnx.Param: it never trains; use nnx.Param"
        return f"weight `self.{clip(attr, 24)}` is a raw JAX array, not an nnx.Param: it never trains; use nnx.Param"

    @staticmethod
    def _methods(model: FileModel, cls):
        for c in model.class_chain(cls):
            yield from c.methods.values()
        for other in model.class_list:  # subclasses in the same file
            if other is not cls and f"<local>.{cls.name}" in other.base_names:
                yield from other.methods.values()

    @classmethod
    def _read_in_call(cls_, model: FileModel, cls, attr: str, init_name: str = "__init__") -> bool:
        """`self.<attr>` is read in a method with a differentiable context (`__call__` and what
        it calls)."""
        methods = {id(m) for m in cls_._methods(model, cls) if m.name != init_name and m.context is not None}
        for node, fn in model.attributes:
            if fn is None or node.attr.value != attr or not is_name(node.value, "self"):
                continue
            top = fn
            while top.parent is not None:
                top = top.parent
            if id(top) in methods and not _store_target(model, node):
                return True
        return False

    @classmethod
    def _applied_as_identity(cls_, model: FileModel, cls, attr: str, identity: str, init_name: str = "__init__") -> bool:
        """A read of the all-zeros (all-ones) attribute in a differentiable method is added to
        (multiplied with) another value, and nothing outside the class stores the attribute: as a
        constant that term would be the identity, so it is there to be learned (a bias, a scale)."""
        methods = {id(m) for m in cls_._methods(model, cls) if m.name != init_name and m.context is not None}
        found = False
        for node, fn in model.attributes:
            if node.attr.value != attr:
                continue
            if not is_name(node.value, "self"):
                parent = model.parent(node)
                if _store_target(model, node) or (
                        isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value == "value"
                        and _store_target(model, parent)):
                    # `model.bias = loaded`, `model.log_temp.value = annealed` from outside: a value set by hand
                    return False
                continue
            if fn is None:
                continue
            top = fn
            while top.parent is not None:
                top = top.parent
            if id(top) in methods and _matches(identity, _identity_operand(model, node)):
                found = True
        return found

    @classmethod
    def _written(cls_, model: FileModel, cls, attr: str, init_name: str = "__init__") -> bool:
        """A method other than `__init__` assigns the attribute or its `.value` (state)."""
        methods = {id(m) for m in cls_._methods(model, cls) if m.name != init_name}
        for node, fn in model.attributes:
            if fn is None or node.attr.value != attr or not is_name(node.value, "self"):
                continue
            top = fn
            while top.parent is not None:
                top = top.parent
            if id(top) not in methods:
                continue
            if _store_target(model, node):
                return True
            parent = model.parent(node)
            if isinstance(parent, cst.Attribute) and parent.value is node:
                if parent.attr.value == "value" and _store_target(model, parent):
                    return True
                call = model.parent(parent)
                if isinstance(call, cst.Call) and call.func is parent and parent.attr.value in ("update", "set_value", "replace", "assign"):
                    return True
        return False


# `jnp.zeros(shape)` / `jnp.ones(shape)` and their `_like` forms: identity values of + and *.
IDENTITY_CONSTANTS = {
    "jax.numpy.zeros": "add", "jax.numpy.zeros_like": "add", "jax.numpy.ones": "mul", "jax.numpy.ones_like": "mul",
    "jax.numpy.full": "const", "jax.numpy.full_like": "const",
}
# Functions that map an unconstrained value to a positive scale or a (0, 1) gate: a stored
# constant read through one of them and multiplied in is a logit / log-scale meant to be learned
# (nobody stores `c` to multiply by `sigmoid(c)`, a constant they could have written).
REPARAMETRIZATIONS = {
    "jax.numpy.exp", "jax.lax.exp", "jax.nn.sigmoid", "jax.nn.softplus", "flax.nnx.sigmoid", "flax.nnx.softplus",
    "flax.linen.sigmoid", "flax.linen.softplus",
}


def _matches(identity: Optional[str], operand: Optional[str]) -> bool:
    """The read use fits the constant: zeros added, ones multiplied, any constant gated."""
    return identity is not None and (operand == identity or operand == "gate")


# Calls that keep a constant a constant: `jnp.log(jnp.array(0.07))`, `jnp.float32(1.0)`,
# `math.log(1 / 0.07)`: the usual spellings of an initial log-temperature or logit.
CONSTANT_CALLS = {
    "jax.numpy.array", "jax.numpy.asarray", "jax.numpy.float32", "jax.numpy.log", "jax.numpy.log1p",
    "jax.numpy.exp", "jax.numpy.sqrt", "math.log", "math.log1p", "math.exp", "math.sqrt", "numpy.log",
    "numpy.float32", "numpy.array", "numpy.asarray",
}


def _identity_constant(model: FileModel, expr: cst.BaseExpression) -> Optional[str]:
    """"add" for an array of zeros, "mul" for an array of ones, "const" for any other constant
    (`jnp.full`, a number, `jnp.log(jnp.array(0.07))`), else None."""
    if isinstance(expr, cst.Call):
        found = IDENTITY_CONSTANTS.get(model.callee(expr) or "")
        if found is not None:
            return found
    # an array built from numbers only; a bare Python number is a hyperparameter, not a weight
    array_made = isinstance(expr, cst.Call) and (model.callee(expr) or "").startswith("jax.numpy.")
    return "const" if array_made and _numeric_constant(model, expr) else None


def _numeric_constant(model: FileModel, expr: cst.BaseExpression, depth: int = 0) -> bool:
    """A value computed from number literals only (`0.1`, `-2.0`, `1 / 0.07`, `jnp.log(0.1)`)."""
    if depth > 6:
        return False
    if isinstance(expr, (cst.Float, cst.Integer)):
        return True
    if isinstance(expr, cst.UnaryOperation):
        return _numeric_constant(model, expr.expression, depth + 1)
    if isinstance(expr, cst.BinaryOperation):
        return _numeric_constant(model, expr.left, depth + 1) and _numeric_constant(model, expr.right, depth + 1)
    if isinstance(expr, cst.Call) and model.callee(expr) in CONSTANT_CALLS and expr.args:
        first = expr.args[0]
        return first.keyword is None and _numeric_constant(model, first.value, depth + 1)
    return False


def _identity_operand(model: FileModel, node: cst.Attribute) -> Optional[str]:
    """"add" when the read `self.x` (or `self.x[...]`, `self.x.value`) is an operand of `+`/`-`,
    "mul" of `*`, else None."""
    child: cst.CSTNode = node
    parent = model.parent(child)
    while True:
        if isinstance(parent, cst.Subscript) and parent.value is child:
            pass
        elif isinstance(parent, cst.Attribute) and parent.value is child and parent.attr.value == "value":
            pass
        else:
            break
        child, parent = parent, model.parent(parent)
    if isinstance(parent, cst.Arg) and isinstance(model.parent(parent), cst.Call):
        # `x * jnp.exp(self.log_scale)`, `x / jnp.exp(self.log_temperature)`: exp(0) == 1, so an
        # all-zeros log-scale is the multiplicative identity
        # `x * jax.nn.sigmoid(self.gate)`: whatever the constant, a gate or a scale to learn
        call = model.parent(parent)
        if model.callee(call) in REPARAMETRIZATIONS and call.args[0] is parent:
            outer = model.parent(call)
            if isinstance(outer, cst.BinaryOperation) and (isinstance(outer.operator, cst.Multiply) or (
                    isinstance(outer.operator, cst.Divide) and outer.right is call)):
                return "gate"
        return None
    if isinstance(parent, cst.BinaryOperation):
        if isinstance(parent.operator, (cst.Add, cst.Subtract)):
            return "add"
        if isinstance(parent.operator, cst.Multiply):
            return "mul"
    return None


def _made_by_helper(model: FileModel, value: cst.BaseExpression, init: FunctionInfo) -> Optional[Tuple[cst.BaseExpression, FunctionInfo]]:
    """`self.gate = make_gate(dim)` with `make_gate` a function of this file (or a method of the
    class) with one `return <value>`: that value and the helper it is built in."""
    if not isinstance(value, cst.Call) or model.callee(value) is not None:
        return None
    helper = model.objects.called_function(value, init)
    if helper is None or not isinstance(helper.node, cst.FunctionDef) or len(helper.returns) != 1:
        return None
    returned = getattr(helper.returns[0], "value", None)
    if returned is None or helper.name in ("__init__", "__call__", "setup"):
        return None
    return returned, helper


def _store_target(model: FileModel, node: cst.CSTNode) -> bool:
    """The node is (inside) the target of an assignment: `self.x = ...`, `self.x[i] = ...`,
    `self.x += ...`."""
    child = node
    for anc in model.ancestors(node):
        if isinstance(anc, cst.AssignTarget):
            return True
        if isinstance(anc, (cst.AugAssign, cst.AnnAssign)):
            return child is anc.target
        if isinstance(anc, cst.Subscript) and child is anc.value:
            child = anc
            continue
        return False
    return False


def _selects_variables(model: FileModel) -> bool:
    """The file differentiates or optimizes more than `nnx.Param`: `nnx.DiffState(0, filter)` or
    `wrt=<filter>` other than `nnx.Param`."""
    for call, _fn in model.calls:
        name = model.callee(call) or ""
        if name.endswith("DiffState"):
            return True
        wrt = keyword_argument(call, "wrt")
        if wrt is not None and model.resolve(wrt) != "flax.nnx.Param":
            return True
    return False
