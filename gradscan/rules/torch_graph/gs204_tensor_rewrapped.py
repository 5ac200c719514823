from __future__ import annotations

import re
from typing import Iterator, List, Optional, Set

import libcst as cst

from gradscan.frameworks import names as api_names
from gradscan.frameworks import torch as torch_api

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import (
    PYTHON_CONVERSIONS, GraphRule, first_arg, last_name, numberish, reach, requires_grad_fixes, site, uses_torch,
)
from gradscan.semantics import intent
from gradscan.semantics.contexts import called_function
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.model import FileModel
from gradscan.semantics.summaries import LIBRARIES, Summaries
from gradscan.semantics.walk import descendants


def _strip_methods(expr: cst.BaseExpression, names: Set[str]) -> cst.BaseExpression:
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in names:
        expr = expr.func.value
    return expr


# NumPy/Python data made a tensor again: every one of these is a new leaf (pt07).
DATA_TO_TENSOR = api_names(torch_api.REWRAP_FUNCTIONS)


class TensorRewrapped(GraphRule):
    code = "GS204"
    name = "tensor-rewrapped"
    summary = "`torch.tensor(t)`, `t.new_tensor(t)`, `nn.Parameter(activation)` or `from_numpy(t.detach().numpy())` makes a new leaf from a graph tensor"
    message = "re-wrapped tensor has lost its graph: the weights before it get no gradient; use the tensor"
    explanation = (
        "Re-wrapping (torch.tensor(t), nn.Parameter(t), from_numpy) copies the value into a new leaf without "
        "history: the weights that computed it get no gradient."
    )
    hint = "use the tensor itself, `torch.stack`/`torch.cat` for lists of tensors, or `torch.as_tensor(t)` to convert dtype"
    facts = ("pt07", "pt21")
    triggers = ("tensor(", "from_numpy", "Parameter(", "new_tensor")
    doc = """
    ## What it does
    Flags `torch.tensor(<tensor>)`, `torch.tensor([<tensors>])` (for example a list of losses
    summed later), `t.new_tensor(<tensor>)`, `nn.Parameter(<activation>)` inside forward, and
    `torch.from_numpy(t.detach().numpy())` or `torch.tensor(t.detach().cpu().numpy())` (also
    through one NumPy function), when the tensor comes from the weights and the new
    tensor reaches forward's return value or the loss. The conversion may sit in a helper, of
    this file or another project file (`arr = to_numpy(model(x))`, then `torch.tensor(arr)`):
    the helper's summary says it returns its argument only as NumPy data, and the re-wrap
    that makes it a tensor again is reported.

    ## Why it breaks gradients
    These calls copy the *value* into a fresh leaf tensor with no history: the weights that
    produced it get `grad is None`. `torch.tensor(h)` and `h.new_tensor(h)` emit a UserWarning
    ("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach()")
    that is easy to miss; `torch.tensor([t0, t1])` of 0-dim tensors and
    `from_numpy(h.detach().numpy())` are silent; `nn.Parameter(h)` in forward makes a new,
    untrained leaf every call (facts pt07, pt21). Even `requires_grad=True` only makes the copy
    a leaf of its own.

    Not flagged: `torch.as_tensor(t)` and `torch.Tensor(t)` (they keep the graph, pt07),
    `torch.stack`/`torch.cat`, `torch.tensor` of Python numbers or lists of numbers, and
    `new_zeros`/`new_ones`/`new_full`.

    ## Example
    ```python
    losses = [criterion(model(x), y) for x, y in batches]
    loss = torch.tensor(losses).sum()
    loss.backward()
    ```

    ## Use instead
    ```python
    losses = [criterion(model(x), y) for x, y in batches]
    loss = torch.stack(losses).sum()
    loss.backward()
    ```

    ## References
    - PyTorch docs: `torch.tensor` ("always copies data"), `torch.as_tensor`, `torch.stack`
    - gradscan facts: pt07, pt21
    """
    invalid = (
        """
        import numpy as np
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.l2 = nn.Linear(3, 1)

            def forward(self, x):
                h = torch.tensor(self.l1(x))  # error: GS204
                g = torch.from_numpy(np.tanh(self.l2(x).detach().numpy()))  # error: GS204
                return h + g

        def train(model, batches, crit, opt):
            losses = []
            for x, y in batches:
                losses.append(crit(model(x), y))
            loss = torch.tensor(losses).sum()  # error: GS204
            loss.backward()
            opt.step()
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)

            def forward(self, x):
                h = self.l1(x)
                scale = torch.tensor([0.5, 2.0, 1.0])
                h = torch.as_tensor(h, dtype=torch.float64).float()
                return torch.stack([h, h * scale]).sum(0)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = model.sources.walk
        owned206 = {id(n) for n, _name, _s in requires_grad_fixes(model)}
        for call, fn in model.calls:
            data = self._rewrapped_value(model, call)
            if data is None or id(call) in owned206:
                continue
            where = site(model, call)
            if where is None:
                continue
            name = model.callee(call)
            if name in ("torch.nn.Parameter", "torch.nn.parameter.Parameter") and where != "context":
                continue
            if not self._live(model, src, data):
                continue
            trace = reach(model, call, where)
            if trace is None or intent.intentional_cut(model, call, data, trace):
                continue
            yield Report(call.func.attr if isinstance(call.func, cst.Attribute) else call.func)
        yield from self._helper_round_trips(model, src, owned206)

    @staticmethod
    def _helper_round_trips(model: FileModel, src, owned206) -> Iterator[Report]:
        """`arr = to_numpy(model(x))` (a helper of this or another project file that returns
        its argument only as NumPy/Python data), then `torch.tensor(arr)` on the way to the
        loss: reported at the re-wrap, where the graph is lost for good."""
        if not TensorRewrapped._may_round_trip(model):
            return
        summaries = model.get(Summaries)
        for call in TensorRewrapped._wrapped_calls(model):
            data = summaries.converted_argument(call) if call.args and type(call.func) in (cst.Name, cst.Attribute) else None
            if data is None or not (src.is_live(data) or src.fed_from_weights(data)):
                continue
            helper = called_function(model, model.enclosing_function(call), call)
            if helper is not None and _has_python_conversion(helper.node):
                continue  # `return t.tolist()` in a helper of this file: GS205 reports it there
            where = site(model, call)
            if where is None:
                continue
            trace = reach(model, call, where)
            if trace is None or trace.converted is not call:
                continue
            rewrap = next((n for n in trace.path if type(n) is cst.Call and n is not call
                           and TensorRewrapped._rewrap_call(model, n)), None)
            if rewrap is None or id(rewrap) in owned206 or intent.intentional_cut(model, call, data, trace):
                continue
            yield Report(rewrap.func.attr if isinstance(rewrap.func, cst.Attribute) else rewrap.func)

    @staticmethod
    def _may_round_trip(model: FileModel) -> bool:
        """A helper that converts is one of this file (it writes a conversion) or of another
        project file (the file imports something other than a library)."""
        source = model.source or ""
        if any(word in source for word in (".numpy(", ".tolist(", ".item(")):
            return True
        return any(m not in LIBRARIES for m in model.imports.modules)

    @staticmethod
    def _wrapped_calls(model: FileModel) -> List[cst.Call]:
        """The calls whose result a re-wrap takes, directly (`torch.tensor(to_numpy(h))`) or
        through a name it reads (`arr = to_numpy(h)` ... `torch.tensor(arr)`): the only
        candidates for a helper's round trip, found without asking every call's summary."""
        out: List[cst.Call] = []
        seen: Set[int] = set()
        definitions = model.get(Definitions)
        for rewrap, fn in model.calls:
            if not TensorRewrapped._rewrap_call(model, rewrap):
                continue
            for arg in rewrap.args:
                if numberish(arg.value):
                    continue  # `torch.tensor([0.5, 2.0])`: numbers, no helper's result
                for node in descendants(arg.value):
                    found = [node] if type(node) is cst.Call else []
                    if type(node) is cst.Name:
                        bindings, _kind = definitions.reaching(node, fn)
                        found = [b.value for b in bindings if type(b.value) is cst.Call]
                    for call in found:
                        if id(call) not in seen:
                            seen.add(id(call))
                            out.append(call)
        return out

    @staticmethod
    def _rewrap_call(model: FileModel, call: cst.Call) -> bool:
        if model.callee(call) in DATA_TO_TENSOR:
            return True
        return isinstance(call.func, cst.Attribute) and call.func.attr.value == "new_tensor"

    @staticmethod
    def _rewrapped_value(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
        func = call.func
        last = last_name(func)
        if last not in ("tensor", "Parameter", "new_tensor", "from_numpy"):
            return None
        name = model.callee(call)
        if name in ("torch.tensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            data = first_arg(call)
        elif isinstance(func, cst.Attribute) and func.attr.value == "new_tensor" and name is None:
            data = first_arg(call)
        elif name == "torch.from_numpy":
            data = first_arg(call)
            if data is None:
                return None
            # only `from_numpy(t.detach().numpy())` (or `.cpu().numpy()`): a numpy array built
            # by other means is data
            inner = _strip_methods(data, {"copy", "astype"})
            if not (isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "numpy"):
                # np.f(t.detach().numpy()): look one call deeper
                if isinstance(inner, cst.Call) and inner.args:
                    inner = _strip_methods(inner.args[0].value, {"copy", "astype"})
                if not (isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "numpy"):
                    return None
            return _strip_methods(inner, {"numpy", "cpu", "detach", "clone", "contiguous"})
        else:
            return None
        if data is None or numberish(data):
            return None
        if _has_python_conversion(data):
            return None  # torch.tensor(x.item()): GS205
        # (`torch.tensor(t.detach().cpu().numpy())`, also through one NumPy function,
        # `torch.tensor(np.tanh(t.detach().numpy()))`: the same round trip as `from_numpy`)
        if (type(data) is cst.Call and data.args and (model.callee(data) or "").startswith("numpy.")
                and _ends_in_numpy(data.args[0].value)):
            data = data.args[0].value
        return _strip_methods(data, {"detach", "clone", "cpu", "cuda", "to", "float", "contiguous", "numpy"})

    @staticmethod
    def _live(model: FileModel, src, data: cst.BaseExpression) -> bool:
        if _plain_python_attr(model, data):
            return False
        if isinstance(data, (cst.List, cst.Tuple)):
            return any(src.is_live(_strip_methods(e.value, {"detach", "clone", "cpu"})) for e in data.elements)
        # or an input its callers feed from the weights (a loss module's `logits`)
        return src.is_live(data) or src.fed_from_weights(data)


def _ends_in_numpy(expr: cst.BaseExpression) -> bool:
    inner = _strip_methods(expr, {"copy", "astype"})
    return isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "numpy"


_PLAIN_ANNOTATION = re.compile(
    r"^(?:[\s,\[\]]|typing\.|Dict|Mapping|List|Sequence|Tuple|Set|FrozenSet|Optional|Iterable|"
    r"dict|list|tuple|set|frozenset|int|float|str|bool|None)*$"
)


def _plain_python_attr(model: FileModel, data: cst.BaseExpression) -> bool:
    """`list(self.token_ids.values())` where `__init__` stored `self.token_ids` straight from a
    parameter annotated with plain Python types (`Dict[str, int]`): numbers, not tensors."""
    while True:
        if type(data) is cst.Call and type(data.func) is cst.Name and data.func.value in ("list", "tuple", "sorted") and len(data.args) == 1:
            data = data.args[0].value
        elif type(data) is cst.Call and type(data.func) is cst.Attribute and data.func.attr.value in ("values", "keys") and not data.args:
            data = data.func.value
        else:
            break
    if not (type(data) is cst.Attribute and type(data.value) is cst.Name and data.value.value == "self"):
        return False
    fn = model.enclosing_function(data)
    while fn is not None and fn.cls is None:
        fn = fn.parent
    if fn is None:
        return False
    init = model.find_method(fn.cls, "__init__")
    if init is None:
        return False
    stores = [value for attr, value, _node, method in fn.cls.self_assigns if attr == data.attr.value]
    if len(stores) != 1 or type(stores[0]) is not cst.Name:
        return False
    params = init.node.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == stores[0].value and param.annotation is not None:
            return bool(_PLAIN_ANNOTATION.match(model.module.code_for_node(param.annotation.annotation)))
    return False


def _has_python_conversion(expr: cst.BaseExpression) -> bool:
    for node in descendants(expr):
        if type(node) is cst.Call:
            func = node.func
            if type(func) is cst.Attribute and func.attr.value in PYTHON_CONVERSIONS:
                return True
            if type(func) is cst.Name and func.value in ("float", "int"):
                return True
    return False
