"""The one gradient-flow walk: does a value carry gradient from what is trained?

`Walk.roots(expr)` follows a value back through names, operators, containers, calls (through
per-function summaries and call-site binding), objects and attributes, to the roots it derives
from; `weight:` roots are trainable sources. Each framework's facts (`facts.FrameworkFacts`,
read from the tables in `gradscan/frameworks/`) say, node by node, whether a node is a source, a
cut or nothing before the common step, so torch, TensorFlow, JAX and the distributions ("graph")
are one walk with four sets of facts:

- torch (the default): parameter reads, weighted submodule calls (`self.fc(x)`, `model(x)`,
  `layer(h)` for `layer in self.layers`), trainable leaves handed to an optimizer, helpers and
  methods returning one of those, and a helper's parameters bound at its call sites;
- TensorFlow / Keras (`facts.TensorFlowSources`): layer and model outputs, trainable variables,
  `add_weight`, tape-watched tensors, a layer's `call()` input, `y_pred`;
- JAX (`facts.JaxSources`): the arguments `jax.grad` and the other transforms differentiate, and
  the parameters of the helpers they pass a traced value to;
- distributions (`distributions.graph_facts`): module outputs, parameters, `pyro.param`s,
  trainable leaves, the inputs of a differentiable function.

`model.sources` (`GradientSources`, at the end) is the entry point every rule asks:
`model.sources.carries(expr)` with the facts of `expr`'s framework context,
`model.sources.live(expr, framework)` with a given framework's, and `model.sources.walk` for the
walk's other questions (`frozen_names`, `inputs_reach_otherwise`, `is_module_object`, ...). The
walk is built once per file and memoised with the model (`model.get(...)`); it is bounded by
`budget.tick` and a depth limit, so its cost stays linear in the file.
"""
from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

import libcst as cst

from gradscan.frameworks import names as api_names
from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import torch as torch_api
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.budget import tick
from gradscan.semantics.contexts import in_no_grad_block
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.facts import FrameworkFacts, JaxSources, TensorFlowSources
from gradscan.semantics.flow import is_conversion
from gradscan.semantics.names import TOKEN, dotted, tokens
from gradscan.semantics.summaries import Summaries
from gradscan.semantics.walk import target_names

ARGUMENT_PRESERVING = api_names(jax_api.ARGUMENT_PRESERVING_TRANSFORMS)

if TYPE_CHECKING:
    from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo


# Names of objects that hold weights (a training script's `model(x)`, `self.model = model`).
MODULE_TOKENS = {
    "model", "models", "net", "nets", "network", "module", "encoder", "decoder", "backbone",
    "generator", "discriminator", "critic", "actor", "policy", "classifier", "transformer", "unet",
    "vae", "autoencoder", "teacher", "student", "predictor", "projector", "head", "netg", "netd",
    "gen", "disc", "embedder", "embedding", "embeddings", "rnn", "lstm", "gru", "mlp", "cnn",
}
# Factory functions whose names say they build a layer with weights (timm's `create_conv2d`,
# `norm_layer(dim)`, `conv_block(...)`), and the tokens of the ones without weights.
WEIGHTED_FACTORY_TOKENS = {
    "conv", "conv1d", "conv2d", "conv3d", "linear", "norm", "bn", "layernorm", "batchnorm", "groupnorm",
    "attn", "attention", "mlp", "block", "embed", "embedding", "proj", "projection", "head", "encoder",
    "decoder", "lstm", "gru", "rnn", "transformer", "ffn", "dense", "stem", "layer",
}
WEIGHTLESS_FACTORY_TOKENS = {"act", "activation", "pool", "pooling", "drop", "dropout", "identity", "path", "fn", "func", "function", "mask", "init", "get"}

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) - {"__future__"}
# torch.nn classes without weights: calling them is not a weight use.
_WEIGHTLESS_NN = re.compile(
    r"^torch\.nn\.(?:ReLU\d*|GELU|SiLU|Sigmoid|Tanh|Softmax\d*d?|LogSoftmax|Dropout\w*|AlphaDropout|Identity|"
    r"\w*Pool\d?d?|Flatten|Unflatten|Upsample\w*|PixelShuffle|PixelUnshuffle|LeakyReLU|ELU|CELU|SELU|Mish|"
    r"Hardswish|Hardsigmoid|Hardtanh|Softplus|Softsign|Tanhshrink|Threshold|GLU|LogSigmoid|Softmin|"
    r"ZeroPad\w*|ConstantPad\w*|ReflectionPad\w*|ReplicationPad\w*|CircularPad\w*|ChannelShuffle|"
    r"\w*Loss|CosineSimilarity|PairwiseDistance|Fold|Unfold)$"
)
_INHERITED_PARAMETERS = api_names(torch_api.INHERITED_LAYER_PARAMETERS)


def _layer_with_weights(base: str) -> bool:
    """`torch.nn.Linear`, `torch.nn.Conv2d`: a built-in layer that registers parameters (not a
    container, not an activation, pooling or loss)."""
    return (base.startswith("torch.nn.") and base.count(".") == 2 and base[len("torch.nn."):][:1].isupper()
            and base not in torch_api.PARAMETERLESS_BASES and not _WEIGHTLESS_NN.match(base))


_TENSOR_FACTORIES = {
    "zeros", "ones", "empty", "full", "randn", "rand", "randint", "arange", "linspace", "logspace", "eye",
    "tensor", "as_tensor", "from_numpy", "zeros_like", "ones_like", "empty_like", "full_like", "randn_like",
    "rand_like", "stack", "cat", "exp", "log", "pow", "sqrt",
}
# One table with the flow (gradscan/frameworks/torch.py).
NON_CARRYING_METHODS = api_names(torch_api.NON_CARRYING_METHODS)
_CONVERSION_BUILTINS = api_names(torch_api.CONVERSION_BUILTINS)
NON_CARRYING_ATTRS = api_names(torch_api.NON_CARRYING_ATTRS)
TRAINABLE_FACTORIES = api_names(torch_api.WEIGHT_FACTORIES)
_PARAMETER = {"torch.nn.Parameter", "torch.nn.parameter.Parameter", "tensorflow.Variable"}


# Roots that stand for a parameter bound at its call sites (`weight:bound:caller:x`: some caller
# passes a value from the weights), not for a weight of the function's own: a call of the
# function replaces them by what it passes itself.
BOUND = "weight:bound:"


class Walk:
    """Where values come from inside a function (see the module documentation)."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._roots: Dict[int, FrozenSet[str]] = {}
        self._exclude: Optional[cst.CSTNode] = None
        # The walk's framework facts: "torch" (the default), "tensorflow" or "jax" (`roots_in`),
        # and names not followed (`skip`): one memo per (framework, excluded block, skipped names).
        self._mode = "torch"
        self._skip: FrozenSet[str] = frozenset()
        self._memos: Dict[tuple, Dict[int, FrozenSet[str]]] = {("torch", 0, frozenset()): self._roots}
        self._facts: Optional["FrameworkFacts"] = None
        self._attr_kinds: Dict[int, Dict[str, str]] = {}
        self._owners: Dict[str, Optional[Set[str]]] = {}  # the optimizers' parameter owners, by kind
        self._module_names: Optional[Set[str]] = None
        self._no_grad_free = False  # `roots_with_grad`: bindings made under no_grad carry nothing

    # ---- public ------------------------------------------------------------------------
    def roots(self, expr: cst.CSTNode) -> FrozenSet[str]:
        """What `expr` derives from, inside its function: `self.<attr>` (weights, buffers,
        submodules), `param:<name>` (the function's inputs), `module:<name>` (a weighted
        object held in a local, global or parameter), `weight:<...>` markers, and every local
        name passed through (`name:<n>`)."""
        key = id(expr)
        if key in self._roots:
            return self._roots[key]
        self._roots[key] = frozenset()  # recursion guard
        try:
            out = frozenset(self._compute(expr, 0))
        except RecursionError:  # pragma: no cover - absurdly deep expressions
            out = frozenset()
        self._roots[key] = out
        return out

    def roots_excluding(self, expr: cst.CSTNode, exclude: Optional[cst.CSTNode]) -> FrozenSet[str]:
        """`roots(expr)` as if the definitions made in `exclude` (a statement or block: the cut
        itself) did not exist: what `expr` derives from other than the cut value."""
        if exclude is None:
            return self.roots(expr)
        saved_exclude, saved_memo = self._exclude, self._roots
        self._exclude = exclude
        self._roots = self._memos.setdefault((self._mode, _exclude_key(exclude), self._skip), {})
        try:
            return self.roots(expr)
        finally:
            self._exclude, self._roots = saved_exclude, saved_memo

    def roots_with_grad(self, expr: cst.CSTNode, exclude: Optional[cst.CSTNode]) -> FrozenSet[str]:
        """`roots_excluding(expr, exclude)` where a name bound only under `torch.no_grad()`
        (`with torch.no_grad(): td_target = r + gamma * target_net(s2).max(1)[0]`) and read
        outside that block derives from nothing: its value carries no gradient."""
        saved = (self._exclude, self._roots, self._no_grad_free)
        self._exclude, self._no_grad_free = exclude, True
        self._roots = self._memos.setdefault((self._mode, id(exclude) if exclude is not None else 0, self._skip, "grad"), {})
        try:
            return self.roots(expr)
        finally:
            self._exclude, self._roots, self._no_grad_free = saved

    def roots_in(self, expr: cst.CSTNode, framework: str, skip: Iterable[str] = ()) -> FrozenSet[str]:
        """`roots(expr)` with the sources and cuts of `framework` ("tensorflow", "jax"; "torch"
        is `roots`) added to the common walk (`FrameworkFacts`): the same propagation through
        names, operators, containers, calls, objects and call sites for every framework.
        Names in `skip` are not followed (the names a cut value was bound to on its way)."""
        if framework == "jax" and self._mode != "jax":
            self._framework_facts().jax_scopes()  # built before any JAX answer is kept
        saved = (self._mode, self._skip, self._roots)
        self._mode, self._skip = framework, frozenset(skip)
        self._roots = self._memos.setdefault((framework, _exclude_key(self._exclude) if self._exclude is not None else 0, self._skip), {})
        try:
            return self.roots(expr)
        finally:
            self._mode, self._skip, self._roots = saved

    def live_in(self, expr: cst.CSTNode, framework: str, skip: Iterable[str] = ()) -> bool:
        """The value of `expr` carries gradient from what `framework` trains."""
        return any(r.startswith("weight:") for r in self.roots_in(expr, framework, skip))

    def weight_roots(self, expr: cst.CSTNode) -> FrozenSet[str]:
        return frozenset(r for r in self.roots(expr) if r.startswith("weight:"))

    def is_live(self, expr: cst.CSTNode) -> bool:
        """The value of `expr` depends on trainable weights computed in its function."""
        return bool(self.weight_roots(expr))

    def fed_from_weights(self, expr: cst.CSTNode, helpers_only: bool = False) -> bool:
        """`expr` derives from an input of its function that a caller in this file passes a
        value computed from weights: `criterion(model(x), y)` for a loss module's `logits`,
        `self.vq(self.encoder(x))` for a quantizer's `z`. Unlike the helper binding of
        `roots`, this holds for a forward's inputs too; rules ask it for values they cut or
        re-wrap themselves (not for masks or lengths passed beside a weighted output).
        `helpers_only`: not a root's inputs (a submodule's forward that cuts its own input may
        be a probe on purpose), except the forward of a module that holds no weights (a loss
        or metric module: it has nothing of its own to train, so a cut there is no probe)."""
        fn = self.model.enclosing_function(expr)
        while fn is not None and isinstance(fn.node, cst.Lambda):
            fn = fn.parent
        if fn is None or fn.context is None:
            return False
        if helpers_only and fn.context.kind != "helper":
            if not (fn.cls is not None and fn.cls.is_torch and self.holds_no_weights(fn.cls)):
                return False
        params = {r[len("param:"):] for r in self.roots(expr) if r.startswith("param:")}
        return any(self.caller_weights(fn, p) for p in sorted(params))

    def holds_no_weights(self, cls: "ClassInfo") -> bool:
        """The torch module class and every base it has keep no parameter and no weighted
        submodule: a loss or metric module (`class DiceLoss(nn.Module)` storing only numbers
        and weightless layers). False when a base is a layer with weights of its own
        (`nn.Linear`) or a class this file does not show."""
        chain = list(self.model.class_chain(cls))
        shown = {c.name for c in chain}
        for c in chain:
            for base in c.base_names:
                if base.startswith("<local>."):
                    if base[len("<local>."):] not in shown:
                        return False
                    continue
                if base == "torch.nn.Module" or _WEIGHTLESS_NN.match(base) or base.endswith(("._Loss", "._WeightedLoss")):
                    continue
                return False
        return all(kind not in ("param", "module", "unknown") for kind in self._class_attrs(cls).values())

    def caller_weights(self, fn: "FunctionInfo", param: str) -> FrozenSet[str]:
        """The weights the callers in this file pass to `fn`'s parameter `param`."""
        if fn.context is None:
            return frozenset()  # no differentiable root reaches it
        out: Set[str] = set()
        for call, _caller in self.model.objects.callers_of(fn)[:8]:
            arg = argument_for(fn, call, param)
            if arg is not None:
                out |= self.weight_roots(arg)
        return frozenset(out)

    def inputs_reach_otherwise(self, expr: cst.CSTNode) -> bool:
        """Every caller in the file also sends what it passes for `expr`'s parameters to the output
        another way (OWLv2's `objectness_predictor(feats)` detaches `feats`, which the class and
        box heads take too): a cut of the input inside the helper removes that path only, not
        the weights' gradient. False when a caller is unknown or passes an expression."""
        fn = self.model.enclosing_function(expr)
        if fn is None:
            return False
        params = sorted(r[len("param:"):] for r in self.roots(expr) if r.startswith("param:"))
        flow = self.model.flow
        checked = False
        for param in params:
            for call, caller in self.model.objects.callers_of(fn)[:8]:
                if self.model.context_of(call) is None and (caller is not None or self.model.module_context is None):
                    continue  # a caller no differentiable root reaches trains nothing through it
                arg = argument_for(fn, call, param)
                if arg is None:
                    continue
                if not isinstance(arg, cst.Name):
                    return False
                checked = True
                others = [u for u in flow.name_index(caller)[0].get(arg.value, []) if not contains(self.model, call, u)]
                if not any(flow.reaches_output(u, max_calls=1) is not None for u in others):
                    return False
        return checked

    def shares_graph(self, a: cst.CSTNode, b: cst.CSTNode, exclude: Optional[cst.CSTNode] = None) -> bool:
        """`a` and `b` derive from a common weight or submodule (raw inputs and plain data do
        not count): a gradient through `a` reaches what `b` came from. With `exclude` (the
        cut's statement or block), `a`'s values that come from the cut itself do not count."""
        ra, rb = self.roots_excluding(a, exclude), self.roots(b)
        return any(r.startswith("weight:") for r in ra & rb)

    def shares_input(self, a: cst.CSTNode, b: cst.CSTNode, exclude: Optional[cst.CSTNode] = None) -> bool:
        """`a` and `b` derive from the same parameter of their function (a helper's
        `y_hard - y_soft.detach() + y_soft`, both from `logits`): whatever the callers pass,
        a gradient through `a` reaches it."""
        ra, rb = self.roots_excluding(a, exclude), self.roots(b)
        return any(r.startswith("param:") for r in ra & rb)

    def covers(self, a: cst.CSTNode, b: cst.CSTNode, exclude: Optional[cst.CSTNode] = None) -> bool:
        """Every weight or submodule `b` derives from is one `a` derives from too (or a part of
        one: `model.encoder` within `model`): a gradient through `a` reaches all that `b` came
        from. `exclude` as for `shares_graph`."""
        ra = {r for r in self.roots_excluding(a, exclude) if r.startswith("weight:")}
        return all(r in ra or any(r.startswith(o + ".") for o in ra) for r in self.roots(b) if r.startswith("weight:"))

    def attr_kind(self, cls: Optional["ClassInfo"], attr: str) -> str:
        """`param`, `module` (with weights), `weightless` (activation, dropout), `buffer`,
        `method`, `other` or `unknown` for `self.<attr>` in class `cls`."""
        if cls is None:
            return "unknown"
        kinds = self._class_attrs(cls)
        return kinds.get(attr, "unknown")

    def is_module_object(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"] = None) -> bool:
        """`self.fc`, `self.blocks[i]`, `model`, `model.encoder`, `layer` for `layer in self.layers`."""
        return any(r.startswith("weight:") for r in self._object_roots(expr, fn or self.model.enclosing_function(expr), 0))

    def frozen_names(self) -> Set[str]:
        """Attributes and names whose parameters the file freezes: `self.enc.requires_grad_(False)`,
        `for p in self.enc.parameters(): p.requires_grad = False`,
        `freeze(self.enc)`. A cut of a frozen network's output cuts nothing that trains."""
        cached = getattr(self, "_frozen", None)
        if cached is not None:
            return cached
        out: Set[str] = set()
        self._frozen = out
        model = self.model
        if "requires_grad" not in model.source and "freeze" not in model.source:
            return out

        def owner(expr) -> Optional[str]:
            # self.enc / enc / self.enc.parameters() / self.enc.named_parameters()
            if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in ("parameters", "named_parameters", "modules", "children"):
                expr = expr.func.value
            if isinstance(expr, cst.Attribute):
                return expr.attr.value
            if isinstance(expr, cst.Name):
                return expr.value
            return None

        def loop_owner(name: cst.Name) -> Optional[str]:
            it = _comprehension_iter(model, name)
            if it is None:
                for anc in model.ancestors(name):
                    if isinstance(anc, cst.For) and name.value in target_names(anc.target):
                        it = anc.iter
                        break
                    if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
                        break
            if it is not None and isinstance(it, cst.Call) and dotted(it.func) in ("zip", "enumerate") and it.args:
                it = it.args[-1].value
            return owner(it) if it is not None else None

        for call, _fn in model.calls:
            func = call.func
            if not isinstance(func, cst.Attribute):
                if isinstance(func, cst.Name) and "freeze" in func.value.lower() and call.args:
                    name = owner(call.args[0].value)
                    if name:
                        out.add(name)
                continue
            method = func.attr.value
            # (not `.eval()`: training scripts evaluate the model they train)
            off = method == "requires_grad_" and call.args and dotted(call.args[0].value) == "False"
            if "freeze" in method.lower() and call.args:
                name = owner(call.args[0].value)
                if name:
                    out.add(name)
            if not off:
                continue
            recv = func.value
            if isinstance(recv, cst.Name) and recv.value not in ("self",):
                name = loop_owner(recv) or recv.value
            else:
                name = owner(recv)
            if name:
                out.add(name)
        for node, _fn in model.assignments:
            if isinstance(node, cst.Assign) and dotted(node.value) == "False":
                for t in node.targets:
                    tgt = t.target
                    if isinstance(tgt, cst.Attribute) and tgt.attr.value == "requires_grad":
                        recv = tgt.value
                        name = loop_owner(recv) if isinstance(recv, cst.Name) else owner(recv)
                        if name:
                            out.add(name)
        return out

    def optimized_attrs(self) -> Optional[Set[str]]:
        """The submodule attributes the file's optimizers are built from, when every optimizer
        the file builds takes only submodules' parameters (`Adam(model.head.parameters())`,
        param groups of `model.fc.parameters()`): the other submodules are not trained (a
        linear probe over a backbone). None when there is no optimizer, or one built from a
        whole model (`model.parameters()`) or from anything else (a list, a filter)."""
        return self._optimizer_owners("attrs", self._attr_owners)

    def optimized_networks(self) -> Optional[Set[str]]:
        """The plain names (`critic`, `self`) whose parameters the file's optimizers are built
        from, when every optimizer the file builds takes only such names' `.parameters()`
        (`Adam(critic.parameters())`, `chain(a.parameters(), b.parameters())`): a network of
        the file that none of them holds is not trained here. None when there is no optimizer,
        or one built from anything else (an attribute, a list of tensors, a filter)."""
        return self._optimizer_owners("names", _parameter_names)

    def _optimizer_owners(self, kind: str, owners) -> Optional[Set[str]]:
        """`owners(params)` united over every torch optimizer the file builds (once per kind);
        None when there is none or when `owners` finds nothing for one of them."""
        if kind in self._owners:
            return self._owners[kind]
        self._owners[kind] = None
        model = self.model
        if "optim" not in model.source:
            return None
        out: Set[str] = set()
        for call, _fn in model.calls:
            name = model.callee(call) or ""
            if not name.startswith("torch.optim.") or name.startswith("torch.optim.lr_scheduler") or not name.rsplit(".", 1)[-1][:1].isupper():
                continue
            params = next((a.value for a in call.args if a.keyword is None or a.keyword.value == "params"), None)
            parts = self._built_from(params, _fn) if params is not None else []
            found = owners(cst.List([cst.Element(p) for p in parts])) if parts else set()
            if not found:
                return None
            out |= found
        self._owners[kind] = out or None
        return self._owners[kind]

    def _built_from(self, params: cst.BaseExpression, fn: Optional["FunctionInfo"]) -> List[cst.BaseExpression]:
        """What an optimizer's parameter argument is made of: the expression itself, or for a
        name (`params = list(dec.parameters()) + list(enc.fc.parameters())`, `params +=
        ...`, `params.extend(...)`) the value of every binding of it in its scope; empty when
        one is something else (a loop target, `-=`)."""
        if type(params) is not cst.Name:
            return [params]
        defs = self.model.get(Definitions).in_scope(fn, params.value)
        out: List[cst.BaseExpression] = []
        for d in defs:
            stmt = d.stmt
            if d.value is None or d.kind not in ("name", "append") or (
                    type(stmt) is cst.AugAssign and type(stmt.operator) is not cst.AddAssign):
                return []
            if type(d.value) in (cst.List, cst.Tuple) and not d.value.elements:
                continue  # `params = []` before the parameters are gathered into it
            out.append(d.value)
        return out

    def _attr_owners(self, params: cst.BaseExpression) -> Set[str]:
        """`_parameter_owners`, where a whole network of the file beside chosen submodules
        (`list(decoder.parameters()) + list(encoder.fc.parameters())`, `decoder = Decoder()`)
        stands for every submodule attribute of its class, and of the classes of this file
        those hold; empty when one is something else (an object of unknown class, a submodule
        handed in from outside) or when no submodule is chosen (`net.parameters()` alone)."""
        receivers = parameter_receivers(params) or []
        if not any(type(r) is cst.Attribute for r in receivers):
            return set()  # whole networks only: other networks of the file may train elsewhere
        out: Set[str] = set()
        for r in receivers:
            if type(r) is cst.Attribute:
                out.add(r.attr.value)
                continue
            cls = self.model.objects.instance_class(r, self.model.enclosing_function(r))
            attrs = self._class_closure(cls, set()) if cls is not None else None
            if not attrs:
                return set()
            out |= attrs
        return out

    def _class_closure(self, cls: "ClassInfo", seen: Set[int]) -> Optional[Set[str]]:
        """The attributes a class of this file assigns on `self`, with those of the classes of
        this file it stores; None when one stores a module of unknown class."""
        if id(cls) in seen:
            return set()
        seen.add(id(cls))
        out: Set[str] = set()
        for c in self.model.class_chain(cls):
            for attr, value, _node, method in c.self_assigns:
                out.add(attr)
                inner = self.model.objects.stored_class(value, c, method)
                if inner is not None:
                    sub = self._class_closure(inner, seen)
                    if sub is None:
                        return None
                    out |= sub
                elif type(value) is not cst.Call and not _literal(value):
                    return None  # an object handed in or taken from elsewhere: what it holds is unknown
        return out

    def named_optimized_attrs(self) -> Optional[Set[str]]:
        """The submodule attributes the file's optimizers name one by one
        (`list(self.img_proj.parameters()) + list(self.txt_proj.parameters())`, a param
        group of `model.head.parameters()`), whatever else they take; None without any."""
        return self._optimizer_owners("named", _named_owners)

    def _module_like_global(self, name: str) -> bool:
        """A global named like a network (`model`, `net`, `encoder`) that is not a function or
        class of this file, nor an imported name (`compute_embeddings`, `Encoder`)."""
        if not tokens(name) & MODULE_TOKENS or name[:1].isupper():
            return False
        model = self.model
        if name in model.module_functions or name in model.classes or model.imports.resolve_name(name) is not None:
            return False
        return not any(f.name == name for f in model.functions)

    # ---- class attributes --------------------------------------------------------------
    def _class_attrs(self, cls: "ClassInfo") -> Dict[str, str]:
        key = id(cls)
        if key in self._attr_kinds:
            return self._attr_kinds[key]
        out: Dict[str, str] = {}
        self._attr_kinds[key] = out
        chain = list(self.model.class_chain(cls))
        for c in reversed(chain):  # nearest class wins
            if any(_layer_with_weights(b) for b in c.base_names):
                # a subclass of a built-in layer reads the parameters the layer registered
                for name in _INHERITED_PARAMETERS:
                    out[name] = "param"
            for name in c.methods:
                out[name] = "method"
            for attr, value, _node, method in c.self_assigns:
                kind = self._value_kind(value)
                if kind == "other" and type(value) is cst.Name:
                    # `self.model = model` in `__init__`: what the constructions pass decides
                    stored = self.model.objects.stored_class(value, c, method)
                    if stored is not None and (stored.is_torch or stored.is_keras):
                        kind = "module"
                prev = out.get(attr)
                # An attribute assigned both a module and None (optional submodule) is a module.
                if prev in ("param", "module") and kind not in ("param", "module"):
                    continue  # `self.conv = fuse_conv_bn_eval(self.conv, bn)` in a fuse method
                out[attr] = kind
            for call, fn in self.model.calls:
                if fn is None or fn.cls is not c:
                    continue
                func = call.func
                if isinstance(func, cst.Attribute) and dotted(func.value) == "self" and call.args:
                    first = call.args[0].value
                    if isinstance(first, cst.SimpleString):
                        name = first.value.strip("'\"rbuRBU")
                        if func.attr.value == "register_buffer":
                            out[name] = "buffer"
                        elif func.attr.value in ("register_parameter", "add_weight"):
                            out[name] = "param"
                        elif func.attr.value == "add_module":
                            out[name] = "module"
        return out

    def _factory_builds_module(self, fn: "FunctionInfo") -> bool:
        """Every value a function of the file returns is a module it constructs."""
        busy = self.__dict__.setdefault("_factories_busy", set())
        if id(fn) in busy:
            return False
        busy.add(id(fn))
        try:
            values = [r.value for r in fn.returns if isinstance(r, cst.Return)]
            return bool(values) and all(v is not None and self._value_kind(v) == "module" for v in values)
        finally:
            busy.discard(id(fn))

    def _value_kind(self, value: cst.BaseExpression) -> str:
        model = self.model
        if isinstance(value, cst.IfExp):
            kinds = {self._value_kind(value.body), self._value_kind(value.orelse)}
            for k in ("param", "module", "buffer", "weightless", "other"):
                if k in kinds:
                    return k
            return "other"
        if isinstance(value, cst.Name) and value.value == "None":
            return "none"
        if isinstance(value, cst.Call):
            name = model.callee(value)
            if name in _PARAMETER:
                return "param"
            if name in ("torch.nn.Buffer", "torch.nn.parameter.Buffer", "torch.nn.UninitializedBuffer"):
                return "buffer"
            if name is not None and name.startswith("torch.nn.") and name.rsplit(".", 1)[1][:1].isupper():
                return "weightless" if _WEIGHTLESS_NN.match(name) else "module"
            if name is not None and name.startswith(("torch.", "numpy.", "math.")):
                last = name.rsplit(".", 1)[1]
                return "buffer" if name.startswith("torch.") and (last in _TENSOR_FACTORIES or last.endswith("Tensor")) else "other"
            if name is not None and name.split(".")[0] in _STDLIB:
                return "other"  # `argparse.ArgumentParser()`, `collections.OrderedDict()`: no weights
            func = value.func
            if type(func) is cst.Attribute and is_self_name(model, func.value) \
                    and self.attr_kind(method_class(model.enclosing_function(value)), func.attr.value) in ("module", "param"):
                return "other"  # `h = self.encoder_embed(x)`: a submodule's forward returns a value
            text = dotted(func) or ""
            last = text.rsplit(".", 1)[-1]
            local = model.classes.get(text)
            if local is not None:
                return "module" if local.is_torch or local.is_keras else "other"
            factory = model.module_functions.get(text) if isinstance(value.func, cst.Name) else None
            if factory is not None and self._factory_builds_module(factory):
                return "module"  # `def q_net(): return nn.Sequential(...)`, then `critic = q_net()`
            if last[:1].isupper() and not last.isupper():
                return "module"
            toks = [t.lower() for t in TOKEN.findall(last)]
            while toks and toks[0] in ("create", "make", "build", "new", "get"):
                toks = toks[1:]
            if toks and toks[0] not in WEIGHTLESS_FACTORY_TOKENS and set(toks) & WEIGHTED_FACTORY_TOKENS:
                return "module"  # `create_conv2d(...)`, `norm_layer(dim)`, `layers.conv_norm_act(...)`
            if isinstance(value.func, cst.Attribute) and value.func.attr.value in ("to", "cuda", "float", "half"):
                return self._value_kind(value.func.value)
            if last in ("add_weight", "add_variable", "param", "variable"):
                return "param"  # Keras `self.add_weight(...)`, Flax `self.param(...)`
            return "other"
        if isinstance(value, (cst.Name, cst.Attribute)):
            text = dotted(value) or ""
            last = text.rsplit(".", 1)[-1]
            if tokens(last) & MODULE_TOKENS:
                return "module"
        return "other"

    # ---- definitions of local names ----------------------------------------------------
    def _definitions(self, name: cst.Name, fn: Optional["FunctionInfo"]):
        """Earlier definitions of a name used at `name` (`definitions.Definitions.reaching`):
        (bindings, kind) where kind is `local`, `param`, `outer` or `none`."""
        return self.model.get(Definitions).reaching(name, fn)

    # ---- roots -------------------------------------------------------------------------
    def _compute(self, expr: cst.CSTNode, depth: int) -> Set[str]:
        if self._mode == "torch":
            return self._common(expr, depth)
        facts = self._framework_facts()
        said = facts.roots(self, expr, self._mode)
        if said is None:
            return self._common(expr, depth)
        if not said:
            return set()  # a cut of this framework
        if facts.FINAL in said:  # the framework's whole answer (a call of an object without weights)
            return set(said) - {facts.FINAL}
        return set(said) | self._common(expr, depth)

    def _framework_facts(self) -> "FrameworkFacts":
        if self._facts is None:
            self._facts = self.model.get(FrameworkFacts)
        return self._facts

    def forget(self, framework: str) -> None:
        """Drop the answers kept for `framework` (its sources changed while they were asked)."""
        for key in [k for k in self._memos if k[0] == framework]:
            del self._memos[key]

    def _common(self, expr: cst.CSTNode, depth: int) -> Set[str]:
        model = self.model
        t = type(expr)
        if t is cst.Name:
            if expr.value in self._skip:
                return set()
            return self._name_roots(expr, depth)
        if t is cst.Attribute:
            if expr.attr.value in NON_CARRYING_ATTRS:
                return set()
            base = expr.value
            if isinstance(base, cst.Name) and base.value in ("self", "cls") or is_self_name(model, base):
                fn = model.enclosing_function(expr)
                cls = method_class(fn)
                kind = self.attr_kind(cls, expr.attr.value)
                key = f"self.{expr.attr.value}"
                if kind == "param":
                    return {key, "weight:" + key}
                return {key} if kind != "method" else set()
            if expr.attr.value in ("weight", "bias", "weight_orig", "embedding") or expr.attr.value.endswith(("_weight", "_bias")):
                obj = self._object_roots(base, self.model.enclosing_function(expr), 0)
                if obj:
                    return set(obj)
            return set(self.roots(base))
        if t is cst.Call:
            return self._call_roots(expr, depth)
        if t in (cst.BinaryOperation,):
            return set(self.roots(expr.left)) | set(self.roots(expr.right))
        if t is cst.UnaryOperation:
            return set(self.roots(expr.expression)) if not isinstance(expr.operator, cst.Not) else set()
        if t is cst.BooleanOperation:
            return set(self.roots(expr.left)) | set(self.roots(expr.right))
        if t is cst.IfExp:
            return set(self.roots(expr.body)) | set(self.roots(expr.orelse))
        if t is cst.Subscript:
            return set(self.roots(expr.value))
        if t in (cst.Tuple, cst.List, cst.Set):
            out: Set[str] = set()
            for e in expr.elements:
                out |= self.roots(e.value)
            return out
        if t is cst.Dict:
            out = set()
            for e in expr.elements:
                if isinstance(e, cst.DictElement):
                    out |= self.roots(e.value)
                else:
                    out |= self.roots(e.value)
            return out
        if t in (cst.ListComp, cst.SetComp, cst.GeneratorExp):
            out = set(self.roots(expr.elt))
            comp = expr.for_in
            while comp is not None:
                out |= self.roots(comp.iter)
                comp = comp.inner_for_in
            return out
        if t is cst.DictComp:
            return set(self.roots(expr.value)) | set(self.roots(expr.for_in.iter))
        if t is cst.NamedExpr:
            return set(self.roots(expr.value))
        if t is cst.Await:
            return set(self.roots(expr.expression))
        if t is cst.StarredElement or t is cst.Element:
            return set(self.roots(expr.value))
        return set()

    def _name_roots(self, name: cst.Name, depth: int) -> Set[str]:
        model = self.model
        if name.value in ("self", "cls"):
            return {"self"}
        fn = model.enclosing_function(name)
        # A name bound by a comprehension: follow the comprehension's iterable.
        comp_iter = _comprehension_iter(model, name)
        if comp_iter is not None:
            return {f"name:{name.value}"} | set(self.roots(comp_iter))
        defs, kind = self._definitions(name, fn)
        out = {f"name:{name.value}"}
        if kind == "param":
            out = {f"param:{name.value}"}
            if tokens(name.value) & MODULE_TOKENS:
                out.add(f"module:{name.value}")
            mapped = _mapped_iterables(model, fn)
            if mapped:  # `map(lambda t: ..., outs)`: `t` is an element of `outs`
                for iterable in mapped:
                    out |= self.roots(iterable)
                return out
            ctx = fn.context if fn is not None else None
            if ctx is not None and ctx.kind == "external" and name.value in ctx.inputs:
                out.add(f"weight:bound:caller:{name.value}")  # another file passes a computed value
            if depth < 2 and BIND_PARAMETERS:
                out |= self._bound_weights(name.value, fn, depth)
            return out
        if kind == "none":
            return out
        for binding in defs:
            stmt, value = binding.stmt, binding.value
            if value is None:
                continue
            if self._exclude is not None and any(stmt is ex or _inside(self.model, stmt, ex) for ex in _excluded(self._exclude)):
                continue
            if self._no_grad_free and not binding.block and in_no_grad_block(model, stmt) and not in_no_grad_block(model, name):
                continue
            whole = self.roots(value)
            # Under TensorFlow's and JAX's facts a tuple element takes its own roots (narrowing
            # the whole call's, never adding); a submodule's elements keep the submodule's name.
            # torch keeps the whole call's: on transformers' two-stage DETR (grounding_dino) the
            # narrowing drops a `prev_*` name root that silenced a deliberate detach of the
            # reference points; the real proof (the encoder's weights reach the callers' loss
            # through its other outputs) needs the callers' loss, not yet asked.
            element = None
            if binding.index is not None and self._mode != "torch":
                element = self._returned_element(value, binding.index, fn)
            out |= (element & whole) if element is not None else whole
        return out

    def _returned_element(self, value: cst.BaseExpression, index: int, fn) -> Optional[Set[str]]:
        """`a, b = helper(x, y)` with every return of the file's `helper` a tuple: the roots of
        element `index` alone, its parameters replaced by what the call passes (`logits, labels
        = pad(logits, labels)` keeps the labels data). None when it cannot be told."""
        if not isinstance(value, cst.Call):
            return None
        target = self.model.objects.called_function(value, fn)
        if target is None or not target.returns:
            return None
        out: Set[str] = set()
        for ret in target.returns:
            if not (isinstance(ret, cst.Return) and isinstance(ret.value, cst.Tuple) and len(ret.value.elements) > index):
                return None
            element = ret.value.elements[index]
            if isinstance(element, cst.StarredElement) or any(isinstance(e, cst.StarredElement) for e in ret.value.elements):
                return None
            for r in self.roots(element.value):
                if r.startswith("param:"):
                    arg = argument_for(target, value, r[len("param:"):])
                    if arg is None:
                        return None
                    out |= self.roots(arg)
                elif r.startswith(("weight:self", "self")):
                    # the callee's own weights: through an object (`model.encode(x)`, a
                    # submodule's forward `self.critic_targ(o, a)`), that object's; a method of
                    # the same `self` (`self.encode(x)`) shares them
                    func = value.func
                    same_self = isinstance(func, cst.Attribute) and is_self_name(self.model, func.value) \
                        and func.attr.value == target.name
                    if isinstance(func, cst.Attribute) and not same_self:
                        out |= self._object_roots(func, fn, 0)
                    elif r.startswith("weight:"):
                        out.add(r)
                elif not r.startswith(("name:", BOUND)):
                    out.add(r)
        return out

    def _bound_weights(self, param: str, fn: Optional["FunctionInfo"], depth: int) -> Set[str]:
        """A helper's parameter bound at its call sites: the weights the callers' arguments
        carry (`dice_loss(model(x), y)` makes `logits` live in `dice_loss`)."""
        owner = fn
        while owner is not None and isinstance(owner.node, cst.Lambda):
            owner = owner.parent
        if owner is None or owner.context is None or owner.context.kind != "helper":
            # A root's inputs are data (a forward's `x`, a loss closure's batch); a function no
            # root reaches (a `@torch.no_grad()` forward, dead code) is not followed either.
            return set()
        out: Set[str] = set()
        for call, _caller in self.model.objects.callers_of(owner)[:8]:
            arg = argument_for(owner, call, param)
            if arg is not None:
                out |= {r for r in self._compute(arg, depth + 1) if r.startswith("weight:")}
        return out

    def _carried(self, call: cst.Call, target: "FunctionInfo") -> Set[str]:
        """The roots of the arguments `call` passes that reach `target`'s return (its summary)."""
        summaries = self.model.get(Summaries)
        out: Set[str] = set()
        for a in call.args:
            if a.keyword is not None and a.keyword.value in ("dim", "axis", "dtype", "device", "keepdim", "out", "size", "shape"):
                continue
            if summaries.carries_argument(target, call, a):
                out |= self.roots(a.value)
        return out

    def _outside(self, call: cst.Call, args: Set[str]) -> Set[str]:
        """The roots of the arguments a function of another project file returns (the project
        index's summary; `args`, all of them, when it has none)."""
        if self.model.project is None:
            return args
        summaries = self.model.get(Summaries)
        kept = [a for a in call.args if summaries.carries_outside(call, a)]
        if len(kept) == len(call.args):
            return args
        out: Set[str] = set()
        for a in kept:
            if a.keyword is None or a.keyword.value not in ("dim", "axis", "dtype", "device", "keepdim", "out", "size", "shape"):
                out |= self.roots(a.value)
        return out

    def _call_roots(self, call: cst.Call, depth: int) -> Set[str]:
        model = self.model
        func = call.func
        leaf = _trainable_leaf(model, call)
        if leaf:
            # `w = torch.randn(3, requires_grad=True)`, `nn.Parameter(t)` in a script: a weight
            # of its own (pt01: backward fills its .grad; an optimizer given it trains it)
            return {f"weight:leaf@{model.flow.order(call)}"}
        args: Set[str] = set()
        for a in call.args:
            if a.keyword is not None and a.keyword.value in ("dim", "axis", "dtype", "device", "keepdim", "out", "size", "shape"):
                continue
            args |= self.roots(a.value)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver = func.value
            # (torch's tensor methods; under another framework's facts only on a value, not
            # a library function of the same name: `tf.round(h)` is TensorFlow's to say)
            if method in NON_CARRYING_METHODS and (self._mode == "torch" or model.callee(call) is None):
                return set()
            if is_self_name(model, receiver):
                fn = model.enclosing_function(call)
                cls = method_class(fn)
                kind = self.attr_kind(cls, method)
                if kind == "method":
                    target = model.find_method(cls, method) if cls is not None else None
                    out = self._carried(call, target) if target is not None else set(args)
                    if target is not None and depth < 3:
                        for ret in target.returns:
                            if isinstance(ret, cst.Return) and ret.value is not None:
                                out |= {r for r in self._compute(ret.value, depth + 1) if not r.startswith(BOUND)}
                    # the helper's own inputs are not this function's (what they are bound to at
                    # other call sites neither: `weight:bound:` roots; this call's arguments are)
                    return {r for r in out if not (r.startswith("param:") and r not in args)}
                key = f"self.{method}"
                if kind == "module":
                    return args | {key, "weight:" + key}
                return args | {key}
            if isinstance(receiver, cst.Call) and dotted(receiver.func) == "super":
                return args | {"weight:super"}
            # `self.blocks[i](h)`, `self.encoder.layer(h)`, `model(x)`, `model.encoder(x)`
            recv_roots = self.roots(receiver)
            if any(r.startswith("weight:module") or r.startswith("weight:self.") for r in self._object_roots(receiver, model.enclosing_function(call), depth)):
                obj = self._object_roots(func, model.enclosing_function(call), depth)
                if obj:
                    return args | set(obj) | {r for r in recv_roots if not r.startswith("weight:")}
            # a method of a value: `h.view(...)`, `h.mean()`, `torch.cat(...)`
            name = model.callee(call)
            if name is not None:
                return self._outside(call, args)
            return args | set(recv_roots)
        if isinstance(func, (cst.Name, cst.Subscript)):
            obj = self._object_roots(func, model.enclosing_function(call), depth)
            if obj:
                return args | set(obj)
            if isinstance(func, cst.Name) and func.value in ("len", "range", "isinstance", "type", "id", "print", "str", "repr", "hasattr", "getattr"):
                return set()
            if (self._mode == "torch" and isinstance(func, cst.Name) and func.value in _CONVERSION_BUILTINS
                    and len(call.args) == 1 and model.resolve(func) is None):
                return set()  # `float(t)`, `int(t)`: a Python number, like `t.item()` (pt14)
            # `helper(h)`: a module-level function in this file returns what it computes
            if isinstance(func, cst.Name) and model.resolve(func) is None:
                target = model.module_functions.get(func.value)
                if target is not None:
                    args = self._carried(call, target)
                if target is not None and depth < 3:
                    out = set(args)
                    for ret in target.returns:
                        if isinstance(ret, cst.Return) and ret.value is not None:
                            out |= {r for r in self._compute(ret.value, depth + 1) if not r.startswith(("param:", BOUND))}
                    return out
            if isinstance(func, cst.Name) and model.resolve(func) is not None:
                return self._outside(call, args)
            return args
        if isinstance(func, cst.Call):  # `nn.Linear(3, 3)(x)`: weights made on the spot are not trained
            inner = func.args[0].value if func.args and model.callee(func) in ARGUMENT_PRESERVING else None
            if isinstance(inner, cst.Lambda) and depth < 3:
                # `jax.vmap(lambda s: net.apply(params, s))(states)`: what the lambda computes,
                # its closure included (its own parameters are this call's arguments)
                own = tuple(f":{p.name.value}" for p in inner.params.params)
                return args | {r for r in self._compute(inner.body, depth + 1) if not (own and r.endswith(own))}
            return args
        return args

    def _callers_pass_module(self, fn, param: str, depth: int) -> bool:
        """A helper's parameter bound at its call sites to a module (`loss_fn(net, x)` with
        `net = Net()`): what the callers pass decides, whatever the parameter is called."""
        owner = fn
        while owner is not None and isinstance(owner.node, cst.Lambda):
            owner = owner.parent
        if owner is None:
            return False
        for call, caller in self.model.objects.callers_of(owner)[:8]:
            arg = argument_for(owner, call, param)
            if arg is not None and self._is_module_object(arg, caller, depth + 1):
                return True
        return False

    def _callers_module_evidence(self, fn, param: str, depth: int) -> Optional[bool]:
        """True when a caller in this file passes a network for `param`, False when every
        caller passes something known not to be one (a function of this file, a lambda, a
        library function such as `torch.tanh`), None when no caller is seen or one passes
        something unknown."""
        owner = fn
        while owner is not None and isinstance(owner.node, cst.Lambda):
            owner = owner.parent
        if owner is None:
            return None
        callers = self.model.objects.callers_of(owner)[:8]
        if not callers:
            return None
        unknown = False
        for call, caller in callers:
            arg = argument_for(owner, call, param)
            if arg is None:
                unknown = True
                continue
            if self._is_module_object(arg, caller, depth + 1):
                return True
            if not _plain_callable(self.model, arg, caller):
                unknown = True
        return None if unknown else False

    def _is_module_object(self, expr: cst.BaseExpression, scope, depth: int) -> bool:
        """`expr` (read in `scope`) is a network object, not a tensor a network computed: an
        instance of a torch/Keras class of this file, a name bound once to a constructor
        (`nn.Linear(...)`, `Net()`), a submodule attribute, or a parameter its callers bind
        to one of those."""
        model = self.model
        cls = model.objects.instance_class(expr, scope)
        if cls is not None:
            return cls.is_torch or cls.is_keras
        if isinstance(expr, cst.Attribute) and is_self_name(model, expr.value):
            return self.attr_kind(method_class(scope), expr.attr.value) == "module"
        if not isinstance(expr, cst.Name) or depth >= 4:
            return False
        defs, kind = self._definitions(expr, scope)
        if kind == "param":
            return self._callers_pass_module(scope, expr.value, depth)
        values = [b.value for b in defs if b.value is not None]
        if not values or not all(isinstance(v, cst.Call) for v in values):
            return False
        for v in values:
            name = model.callee(v) or ""
            local = model.classes.get(dotted(v.func) or "")
            if not ((name.startswith("torch.nn.") and name.rsplit(".", 1)[-1][:1].isupper()
                     and not _WEIGHTLESS_NN.match(name))
                    or (local is not None and (local.is_torch or local.is_keras))):
                return False
        return True

    def _object_roots(self, expr: cst.BaseExpression, fn, depth: int) -> Set[str]:
        """The weight roots of a callable object: `self.fc`, `self.blocks[0]`, `model.encoder`,
        `layer` bound by `for layer in self.layers`, `model` built from a module class."""
        model = self.model
        if isinstance(expr, cst.Attribute):
            if is_self_name(model, expr.value):
                cls = method_class(fn)
                kind = self.attr_kind(cls, expr.attr.value)
                key = f"self.{expr.attr.value}"
                return {key, "weight:" + key} if kind in ("module", "param") else set()
            return self._object_roots(expr.value, fn, depth)
        if isinstance(expr, cst.Subscript):
            return self._object_roots(expr.value, fn, depth)
        if isinstance(expr, cst.Call):
            # `getattr(self, name)`, `self.get_layer(i)`: unknown; `Net()` direct call: fresh weights
            return set()
        if isinstance(expr, cst.Name):
            if is_self_name(model, expr):
                # `self(x)` in a method of a module that holds weights runs its own forward
                # (a Lightning `_shared_step` computing `logits = self(x)`)
                cls = method_class(fn)
                if cls is not None and (cls.is_torch or cls.is_keras) and any(
                        kind in ("module", "param") for kind in self._class_attrs(cls).values()):
                    return {"self", "weight:self.__call__"}
                return set()
            comp_iter = _comprehension_iter(model, expr)
            if comp_iter is not None:
                return self._object_roots(comp_iter, fn, depth + 1) if depth < 4 else set()
            defs, kind = self._definitions(expr, fn)
            if kind == "param":
                # what the callers in this file pass, then how the function uses it, decide;
                # the parameter's name is the hint left when neither shows
                passed = self._callers_module_evidence(fn, expr.value, depth) if depth < 4 else None
                if passed is None:
                    passed = _used_as_module(self.model, fn, expr.value) or bool(tokens(expr.value) & MODULE_TOKENS)
                return {f"module:{expr.value}", f"weight:module:{expr.value}"} if passed else set()
            if kind == "none" and self._module_like_global(expr.value):
                return {f"module:{expr.value}", f"weight:module:{expr.value}"}
            out: Set[str] = set()
            if depth >= 4:
                return out
            for binding in defs:
                value = binding.value
                if value is None:
                    continue
                if isinstance(value, cst.Call):
                    if self._value_kind(value) == "module":
                        out |= {f"module:{expr.value}", f"weight:module:{expr.value}"}
                        continue
                    if dotted(value.func) in ("enumerate", "zip", "reversed", "list", "iter") and value.args:
                        for a in value.args:
                            out |= self._object_roots(a.value, fn, depth + 1)
                        continue
                    if isinstance(value.func, cst.Attribute) and value.func.attr.value in ("to", "cuda", "train", "eval", "children", "modules", "values", "items"):
                        out |= self._object_roots(value.func.value, fn, depth + 1)
                        continue
                    continue
                out |= self._object_roots(value, fn, depth + 1)
            if not out and kind == "outer" and self._module_like_global(expr.value):
                out = {f"module:{expr.value}", f"weight:module:{expr.value}"}
            return out
        if isinstance(expr, (cst.Tuple, cst.List)):
            out = set()
            for e in expr.elements:
                out |= self._object_roots(e.value, fn, depth + 1)
            return out
        return set()


# Binding a helper's parameters to the weights its callers pass found real cuts in the bug bank
# (a loss helper handed the model's output), but on transformers it also read lengths and
# masks computed next to weighted outputs as weights (2 noise findings): off until the binding
# can tell values that carry gradient from the integers and masks beside them.
BIND_PARAMETERS = False


def _trainable_leaf(model: "FileModel", call: cst.Call) -> bool:
    """A tensor made trainable where it is created and handed to an optimizer by name
    (`w = torch.randn(3, requires_grad=True)`, then `SGD([w, b])`): a factory given
    `requires_grad=True`, a `.requires_grad_()` call (not `(False)`), or `nn.Parameter(...)`
    outside a class (inside one, the class's attribute kinds answer). A leaf no optimizer is
    given (an adversarial perturbation, an input whose gradient is read) is data."""
    parent = model.parent(call)
    if not (isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is call):
        return False
    targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
    if not any(isinstance(t, cst.Name) and t.value in model.get(OptimizerBindings).leaves for t in targets):
        return False
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_":
        return not (call.args and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "False")
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "requires_grad":
            return isinstance(a.value, cst.Name) and a.value.value == "True"
    if model.callee(call) in TRAINABLE_FACTORIES:
        fn = model.enclosing_function(call)
        return fn is None or fn.cls is None
    return False


def _excluded(exclude) -> tuple:
    """The regions `exclude` names: one statement or block, or a tuple of them (a cut value
    bound in a helper and again at the helper's call site)."""
    return exclude if isinstance(exclude, tuple) else (exclude,)


def _exclude_key(exclude):
    return tuple(id(ex) for ex in exclude) if isinstance(exclude, tuple) else id(exclude)


def _inside(model: "FileModel", node: cst.CSTNode, stmt: cst.CSTNode) -> bool:
    tick()
    for anc in model.ancestors(node):
        if anc is stmt:
            return True
    return False


def _parameter_owners(params: cst.BaseExpression) -> Set[str]:
    """`model.head.parameters()`, `[{"params": m.fc.parameters()}, ...]`,
    `list(a.x.parameters()) + list(a.y.parameters())`: the attributes whose parameters these
    are; empty when any part is something else (a whole model's parameters, a name)."""
    receivers = parameter_receivers(params) or []
    if not receivers or not all(isinstance(r, cst.Attribute) for r in receivers):
        return set()
    return {r.attr.value for r in receivers}


def _named_owners(params: cst.BaseExpression) -> Set[str]:
    """The attributes among the objects whose parameters these are (`{"fc"}` for
    `list(dec.parameters()) + list(enc.fc.parameters())`); a part that is no `.parameters()`
    call leaves it empty."""
    return {r.attr.value for r in parameter_receivers(params) or [] if isinstance(r, cst.Attribute)} or {""}


def _literal(value: cst.BaseExpression) -> bool:
    """A number, string, True/False/None, or a tuple or list of them."""
    if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("True", "False", "None")
    if isinstance(value, cst.UnaryOperation):
        return _literal(value.expression)
    if isinstance(value, (cst.Tuple, cst.List)):
        return all(_literal(e.value) for e in value.elements)
    return False


def _parameter_names(params: cst.BaseExpression) -> Set[str]:
    """`critic.parameters()`, `chain(a.parameters(), b.parameters())`: the plain names whose
    parameters these are; empty when any part is something else (an attribute, a tensor list)."""
    receivers = parameter_receivers(params) or []
    if not receivers or not all(isinstance(r, cst.Name) for r in receivers):
        return set()
    return {r.value for r in receivers}


def parameter_receivers(params: cst.BaseExpression) -> Optional[List[cst.BaseExpression]]:
    """The objects whose `.parameters()` an optimizer's argument is made of (`net.parameters()`,
    `list(a.parameters()) + list(b.parameters())`, `chain(...)`, param-group dicts); None when
    any part is something else (a name, a filter)."""
    if isinstance(params, cst.Call) and isinstance(params.func, cst.Attribute) and params.func.attr.value == "parameters":
        return [params.func.value] if not params.args else None
    if isinstance(params, cst.Call) and dotted(params.func) in ("list", "itertools.chain", "chain") and params.args:
        parts = [a.value for a in params.args]
    elif isinstance(params, cst.BinaryOperation) and isinstance(params.operator, cst.Add):
        parts = [params.left, params.right]
    elif isinstance(params, (cst.List, cst.Tuple)):
        parts = [e.value for e in params.elements]
    elif isinstance(params, cst.Dict):
        parts = [e.value for e in params.elements if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
                 and e.key.value.strip("'\"") == "params"]
    else:
        return None
    out: List[cst.BaseExpression] = []
    for part in parts:
        if isinstance(part, (cst.Integer, cst.Float, cst.SimpleString)):
            continue
        found = parameter_receivers(part)
        if not found:
            return None
        out.extend(found)
    return out or None


def _mapped_iterables(model: "FileModel", fn: Optional["FunctionInfo"]) -> List[cst.BaseExpression]:
    """The iterables of `map(fn, xs, ...)` when `fn` is a lambda given to the builtin map."""
    if fn is None or not isinstance(fn.node, cst.Lambda):
        return []
    arg = model.parent(fn.node)
    call = model.parent(arg) if isinstance(arg, cst.Arg) else None
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "map"
            and model.callee(call) is None and call.args and call.args[0] is arg):
        return []
    return [a.value for a in call.args[1:] if a.keyword is None and not a.star]


def _comprehension_iter(model: "FileModel", name: cst.Name) -> Optional[cst.BaseExpression]:
    """For a name bound by an enclosing comprehension's `for`, the iterable it runs over."""
    for anc in model.ancestors(name):
        if isinstance(anc, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            comp = anc.for_in
            while comp is not None:
                if name.value in target_names(comp.target):
                    return comp.iter
                comp = comp.inner_for_in
        if isinstance(anc, (cst.FunctionDef, cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            return None
    return None


# Methods only a network has: a parameter they are called on is one, whatever its name.
_MODULE_METHODS = {"parameters", "named_parameters", "modules", "children", "named_modules", "state_dict",
                   "load_state_dict", "zero_grad", "requires_grad_", "train", "eval"}


def _used_as_module(model: "FileModel", fn, param: str) -> bool:
    """`f.parameters()`, `f.eval()`, `f.state_dict()` in `fn`: the parameter `f` is a network.
    So is `f(x)` in a function that runs a backward pass (`loss.backward()`): a training step
    given its network by a caller this file does not show trains what it calls."""
    if fn is None:
        return False
    called = backward = False
    for call in fn.calls:
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in _MODULE_METHODS and type(func.value) is cst.Name \
                and func.value.value == param:
            return True
        if type(func) is cst.Name and func.value == param:
            # not a function of NumPy data (`reward_fn(z.numpy())`) nor one run only without
            # a graph (a reward model under `no_grad`): those are not what the step trains
            called = called or (not in_no_grad_block(model, call) and not any(
                is_conversion(a.value) for a in call.args))
        elif type(func) is cst.Attribute and func.attr.value == "backward":
            backward = True
    return called and backward


def _plain_callable(model: "FileModel", expr: cst.BaseExpression, scope) -> bool:
    """`expr` is a callable that holds no weights: a lambda, a function of this file, or a
    function of torch / numpy / math / the builtins (`torch.tanh`, `F.relu`, `abs`)."""
    if isinstance(expr, cst.Lambda):
        return True
    if isinstance(expr, cst.Name) and expr.value in model.module_functions and expr.value not in model.classes:
        return True
    name = model.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
    if name is None:
        return False
    last = name.rsplit(".", 1)[-1]
    return name.startswith(("torch.", "numpy.", "math.", "builtins.")) and last[:1].islower() and not name.startswith("torch.nn.") \
        or name.startswith("torch.nn.functional.")


def method_class(fn: Optional["FunctionInfo"]):
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    return fn.cls if fn is not None else None


def is_self_name(model: "FileModel", expr: cst.BaseExpression) -> bool:
    """`self`, or the first parameter of the enclosing method whatever its name (`s`)."""
    if not isinstance(expr, cst.Name):
        return False
    if expr.value == "self":
        return True
    fn = model.enclosing_function(expr)
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    if fn is None or not fn.is_method or not isinstance(fn.node, cst.FunctionDef):
        return False
    params = fn.node.params.params
    if not params or any(dotted(d.decorator) in ("staticmethod", "classmethod") for d in fn.node.decorators):
        return False
    return params[0].name.value == expr.value


def contains(model: "FileModel", outer: cst.CSTNode, node: cst.CSTNode) -> bool:
    if outer is node:
        return True
    for anc in model.ancestors(node):
        if anc is outer:
            return True
        if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            return False
    return False


class OptimizerBindings:
    """Per-file index for the optimizer questions: the assignments of each scope by the names
    they bind, and the names whose `.parameters()` the file reads."""

    def __init__(self, model: "FileModel") -> None:
        self.by_scope: Dict[Tuple[int, str], List[cst.CSTNode]] = {}
        for node, owner in model.assignments:
            targets = [t.target for t in node.targets] if type(node) is cst.Assign else [getattr(node, "target", None)]
            for t in targets:
                if t is None:
                    continue
                for name in set(target_names(t)):
                    self.by_scope.setdefault((id(owner), name), []).append(node)
        self.optimized: Set[str] = set()
        self.leaves: Set[str] = set()  # plain names an optimizer is given directly: `SGD([w, b])`
        for call, _fn in model.calls:
            func = call.func
            if type(func) is cst.Attribute and func.attr.value in ("parameters", "named_parameters") and type(func.value) is cst.Name:
                self.optimized.add(func.value.value)
            elif call.args and (model.callee(call) or "").startswith("torch.optim.") and call.args[0].keyword is None:
                self.leaves |= listed_names(call.args[0].value)


def listed_names(expr: cst.BaseExpression) -> Set[str]:
    """`[w, b]`, `(w,)`, `[{"params": [w]}, ...]`: the plain names listed."""
    out: Set[str] = set()
    if isinstance(expr, (cst.List, cst.Tuple)):
        for e in expr.elements:
            if isinstance(e.value, cst.Name):
                out.add(e.value.value)
            elif isinstance(e.value, cst.Dict):
                for d in e.value.elements:
                    if isinstance(d, cst.DictElement) and isinstance(d.key, cst.SimpleString) and d.key.value.strip("'\"") == "params":
                        out |= listed_names(d.value)
    return out


# ---- one entry point -----------------------------------------------------------------------
class GradientSources:
    """`model.sources`: the file's source analyses, one per framework, each built once, and
    `carries(expr)`: does the value of `expr` carry gradient from what is trained, asked of the
    analysis of the framework whose differentiable context `expr` is in."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model

    @property
    def walk(self) -> "Walk":
        return self.model.get(Walk)

    @property
    def tensorflow(self) -> TensorFlowSources:
        return self.model.get(TensorFlowSources)

    @property
    def jax(self) -> JaxSources:
        return self.model.get(JaxSources)

    def live(self, expr: cst.BaseExpression, framework: str) -> bool:
        """The one walk's answer with `framework`'s facts (`Walk.live_in`)."""
        return self.walk.live_in(expr, framework)

    def jax_scopes(self) -> Dict[int, Tuple["FunctionInfo", Set[str]]]:
        """The functions JAX traces and their traced parameters (`FrameworkFacts.jax_scopes`)."""
        return self.model.get(FrameworkFacts).jax_scopes()

    def from_graph(self, expr: cst.BaseExpression, scope: Optional["FunctionInfo"] = None) -> bool:
        """The distributions' question: does the value come from the graph at all (module
        outputs, parameters, inputs of a differentiable function) rather than constants,
        buffers, configuration or detached values (`distributions.from_graph`)."""
        return self.live(expr, "graph")

    def carries(self, expr: cst.BaseExpression, fn: Optional["FunctionInfo"] = None) -> bool:
        model = self.model
        fn = fn if fn is not None else model.enclosing_function(expr)
        ctx = model.context_of(expr)
        framework = ctx.framework if ctx is not None else None
        if framework in ("torch", "tensorflow", "jax"):
            return self.walk.live_in(expr, framework)
        return self.from_graph(expr, fn)
