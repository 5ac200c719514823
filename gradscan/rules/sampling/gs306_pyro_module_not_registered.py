from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, clip
from gradscan.rules.sampling.helpers import SamplingRule
from gradscan.semantics import distributions as dists
from gradscan.semantics.contexts import called_function
from gradscan.rules.torch_params.helpers import requires_grad_tensor
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted

PYRO_MODULE_FUNCTIONS = {"pyro.module", "pyro.primitives.module", "pyro.random_module", "pyro.primitives.random_module"}
TRANSFORMED = {"TransformedDistribution", "ConditionalTransformedDistribution"}


class PyroModuleNotRegistered(SamplingRule):
    code = "GS306"
    name = "pyro-module-not-registered"
    framework = "torch"
    summary = "A torch module or flow transform used in an SVI model or guide without `pyro.module`: SVI never updates its weights"
    message = "torch module used in an SVI model/guide without `pyro.module`: SVI never trains it"
    explanation = ("SVI's optimizer steps only the parameters in Pyro's param store that the model and guide touch: "
                   "`pyro.param` sites and modules registered with `pyro.module` (or built as `PyroModule`). "
                   "A plain `nn.Module` or flow `TransformModule` called inside gets gradients, but no optimizer step.")
    hint = "call `pyro.module(\"name\", net)` inside the model/guide (or make the module a `PyroModule`)"
    facts = ("py43",)
    triggers = ("SVI",)
    doc = """
    ## What it does
    Flags a torch module (an `nn.Module` instance, a module of the file's classes) or a Pyro
    normalizing-flow `TransformModule` (`T.spline(2)`, `T.affine_autoregressive(2)`) that a
    model or guide handed to `pyro.infer.SVI` calls, or builds a `TransformedDistribution` on,
    when no model or guide (nor a function they call) registers it with
    `pyro.module(name, module)` (nor the object holding it: `pyro.module("vae", self)` covers
    `self.encoder`), it is not a `PyroModule`, and its parameters are neither frozen nor given
    to a torch optimizer of their own. A `pyro.module` call run once outside the model and
    guide (at import, in `__init__`) does not count: SVI only steps what it traces, and a
    registration counts for the SVI whose model or guide makes it. The model and guide may be
    functions, methods (`vae.guide`), instances of a class with `__call__`, or the inner
    functions a factory returns (`model, guide = make_pair(net)`); the module may be held in a
    parameter of the function or of the factory it is closed over, and built by a helper
    function of the file (`net = mlp(3, 2)`) or be the value `pyro.module(name, net)` returned
    outside them (`self.net = pyro.module("net", Net())` in `__init__`).
    Also flagged: a raw `requires_grad=True` tensor (`torch.zeros(3, requires_grad=True)`,
    `.requires_grad_()`) that a model or guide reads (`self.w_loc`, a global) other than as
    the initial value of `pyro.param`, and that no torch optimizer is built over.

    ## Why it breaks gradients
    `SVI.step` collects the parameters to update from the param-store sites the model and guide
    touch during the step (fact py43): `pyro.param` sites, and the parameters of modules
    registered with `pyro.module` or declared as `PyroModule`. A plain module's parameters
    receive `.grad` from the ELBO, but no optimizer ever steps them: the network (or the flow)
    keeps its initial weights while the loss trains the rest, silently.

    ## Example
    ```python
    net = MeanNet()

    def model(x, y):
        mean = net(x)
        pyro.sample("obs", dist.Normal(mean, 1.0), obs=y)
    ```

    ## Use instead
    ```python
    def model(x, y):
        mean = pyro.module("net", net)(x)
        pyro.sample("obs", dist.Normal(mean, 1.0), obs=y)
    ```

    ## References
    - Pyro issue 995 ("Learn pyro.module's parameters outside model/guide")
    - Pyro pull request 2282 (flow transforms must be modules registered in the param store)
    """
    invalid = (
        """
        import pyro
        import pyro.distributions as dist
        import torch.nn as nn
        from pyro.infer import SVI, Trace_ELBO
        from pyro.optim import Adam

        net = nn.Linear(3, 1)

        def model(x, y):
            mean = net(x).squeeze(-1)  # error: GS306
            with pyro.plate("data", x.shape[0]):
                pyro.sample("obs", dist.Normal(mean, 1.0), obs=y)

        def guide(x, y):
            pass

        svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
        """,
    )
    valid = (
        """
        import pyro
        import pyro.distributions as dist
        import torch.nn as nn
        from pyro.infer import SVI, Trace_ELBO
        from pyro.optim import Adam

        net = nn.Linear(3, 1)

        def model(x, y):
            mean = pyro.module("net", net)(x).squeeze(-1)
            with pyro.plate("data", x.shape[0]):
                pyro.sample("obs", dist.Normal(mean, 1.0), obs=y)

        def guide(x, y):
            pass

        svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        programs = dists.svi_programs(model)
        if not programs:
            return
        # A registration counts only where SVI traces it: in a model or guide (or a function
        # they call). `pyro.module` run once outside leaves the module out of the step (py43).
        # Per SVI object: a registration in another SVI's guide (`pyro.module("net", net)` of
        # a second program that reuses the name) does not step this one's module.
        registered_by: Dict[int, Set[Tuple[Optional[int], str]]] = {}
        traced_by: Dict[int, Set[int]] = {}
        for svi in {id(c): c for c, _fn in programs}.values():
            traced = {id(fn) for c, fn in programs if c is svi}
            for c, fn in programs:
                if c is not svi:
                    continue
                for call in fn.calls:
                    callee = called_function(model, fn, call)
                    if callee is not None:
                        traced.add(id(callee))
            registered_by[id(svi)] = _registered(model, traced)
            traced_by[id(svi)] = traced
        frozen = model.sources.walk.frozen_names()
        optimized = _optimized(model)
        seen: Set[int] = set()
        for svi, fn in programs:
            registered = registered_by[id(svi)]
            for use, holder, ctor, via in _module_uses(model, fn):
                if id(use) in seen:
                    continue
                seen.add(id(use))
                text = dotted(holder) or ""
                if dists.is_pyro_module_ctor(model, ctor) or _covered(text, fn, registered):
                    continue
                if any(id(model.enclosing_function(c)) in traced_by[id(svi)] for c in via):
                    continue  # `net = pyro.module("net", Net())` run by the model (or a helper it calls)
                last = text.rsplit(".", 1)[-1]
                if last in frozen or text in optimized or last in optimized:
                    continue  # frozen on purpose, or trained by an optimizer of its own
                yield Report(use, f"`{clip(dotted(use) or text, 20)}` is used in an SVI model/guide that never registers it "
                                  "with `pyro.module`: SVI never trains it")
        # A raw `requires_grad=True` leaf tensor read by a model or guide is no param-store site:
        # SVI's optimizer never steps it (py43), unless a torch optimizer of its own does.
        for svi, fn in programs:
            for created, text in _raw_leaves(model, fn):
                if id(created) in seen or _given_to_optimizer(model, text):
                    continue
                seen.add(id(created))
                yield Report(created, f"`{clip(text, 20)}` is a raw `requires_grad` tensor read in an SVI model/guide, not a "
                                      "`pyro.param`: SVI never updates it")


def _module_uses(model: FileModel, fn) -> List[Tuple[cst.BaseExpression, cst.BaseExpression, cst.Call, List[cst.Call]]]:
    """(where to report, the expression holding it, its constructor, the `pyro.module` calls it
    passed through) for each module the function calls (`net(x)`, `self.encoder(x)`) and each
    weighted transform it builds a `TransformedDistribution` on."""
    out = []
    for call in fn.calls:
        func = call.func
        if isinstance(func, (cst.Name, cst.Attribute)) and model.callee(call) is None:
            if isinstance(func, cst.Attribute) and dotted(func.value) != "self" and not isinstance(func.value, cst.Name):
                continue
            via: List[cst.Call] = []
            ctor = dists.module_constructor(model, func, fn, via=via)
            if ctor is not None:
                out.append((func, func, ctor, via))
        name = (model.callee(call) or "").rsplit(".", 1)[-1]
        if name in TRANSFORMED and (model.callee(call) or "").startswith(("pyro.", "torch.")):
            transforms = _transforms_argument(call)
            at = None
            if isinstance(transforms, cst.Name):
                listed = dists.bound_value(model, transforms, fn)
                if isinstance(listed, (cst.List, cst.Tuple)):
                    at, transforms = transforms, listed  # `flows = [T.spline(2)]` built beside the model
            elements = transforms.elements if isinstance(transforms, (cst.List, cst.Tuple)) else ([] if transforms is None else None)
            exprs = [e.value for e in elements] if elements is not None else [transforms]
            for expr in exprs:
                if isinstance(expr, (cst.Name, cst.Attribute)):
                    via = []
                    ctor = dists.module_constructor(model, expr, fn, via=via)
                    if ctor is not None:
                        out.append((at or expr, expr, ctor, via))
                        break
    return out


def _transforms_argument(call: cst.Call) -> Optional[cst.BaseExpression]:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "transforms":
            return a.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[1].value if len(positional) > 1 else None


def _registered(model: FileModel, traced: Set[int]) -> Set[Tuple[Optional[int], str]]:
    """(id of the class for a `self...` text, else None; dotted text) of every module handed to
    `pyro.module` / `pyro.random_module` inside a function SVI traces (ids in `traced`)."""
    out: Set[Tuple[Optional[int], str]] = set()
    for call, owner in model.calls:
        if (model.callee(call) or "") not in PYRO_MODULE_FUNCTIONS or owner is None or id(owner) not in traced:
            continue
        positional = [a for a in call.args if a.keyword is None and not a.star]
        arg = next((a.value for a in call.args if a.keyword is not None and a.keyword.value in ("nn_module", "module")), None)
        if arg is None and len(positional) > 1:
            arg = positional[1].value
        text = dotted(arg) if arg is not None else None
        if not text:
            continue
        cls = _class_of(owner)
        out.add((id(cls) if text.split(".")[0] == "self" and cls is not None else None, text))
    return out


def _class_of(fn):
    while fn is not None:
        if fn.cls is not None:
            return fn.cls
        fn = fn.parent
    return None


def _covered(text: str, fn, registered) -> bool:
    cls = _class_of(fn)
    for owner, reg in registered:
        if reg.split(".")[0] == "self":
            if cls is None or owner != id(cls):
                continue
        if text == reg or text.startswith(reg + "."):
            return True
    return False


def _optimized(model: FileModel) -> Set[str]:
    """Dotted texts whose `.parameters()` a torch optimizer is built on (trained outside SVI)."""
    out: Set[str] = set()
    for call, _owner in model.calls:
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in ("parameters", "named_parameters")):
            continue
        for anc in model.ancestors(call):
            if isinstance(anc, cst.Call) and (model.callee(anc) or "").startswith("torch.optim."):
                text = dotted(func.value)
                if text:
                    out.add(text)
                    out.add(text.rsplit(".", 1)[-1])
                break
            if isinstance(anc, (cst.FunctionDef, cst.SimpleStatementLine)):
                break
    return out


def _raw_leaves(model: FileModel, fn) -> List[Tuple[cst.BaseExpression, str]]:
    """(the creating expression, the text read) for each `requires_grad=True` tensor the
    function reads as `self.x` (set in its class) or as a name bound beside it, other than as
    the initial value handed to `pyro.param`."""
    out = []
    cls = _class_of(fn)
    skip: Set[int] = set()
    for call in fn.calls:
        if (model.callee(call) or "").startswith(("pyro.param", "pyro.primitives.param")):
            for a in call.args:
                skip.update(id(n) for n in _nodes(a.value))
    for node in _nodes(fn.node.body):
        if id(node) in skip:
            continue
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self" and cls is not None:
            values = dists._self_values(model, cls, node.attr.value)
            if len(values) == 1 and requires_grad_tensor(model, values[0][0]):
                out.append((values[0][0], f"self.{node.attr.value}"))
        elif isinstance(node, cst.Name):
            value = dists.bound_value(model, node, fn)
            if value is not None and requires_grad_tensor(model, value):
                out.append((value, node.value))
    return out


def _nodes(root: cst.CSTNode):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (cst.FunctionDef, cst.Lambda)) and node is not root:
            continue
        stack.extend(node.children)


def _given_to_optimizer(model: FileModel, text: str) -> bool:
    """`text` (or its last attribute) appears in the arguments of a `torch.optim` optimizer."""
    last = text.rsplit(".", 1)[-1]
    for call, _owner in model.calls:
        if not (model.callee(call) or "").startswith("torch.optim."):
            continue
        for a in call.args:
            for n in _nodes(a.value):
                if isinstance(n, (cst.Name, cst.Attribute)) and (dotted(n) or "") in (text, last) or (dotted(n) or "").endswith("." + last):
                    return True
    return False
