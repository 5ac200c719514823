from __future__ import annotations

from typing import Iterator, Set

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.torch_params.helpers import (
    TENSOR_FACTORIES, drop_keyword, is_tensor_factory, local_value, nn_spelling, requires_grad_set_later,
    requires_grad_tensor,
)
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted


INIT_MESSAGE = "`self.{attr}` is initialised like a weight (nn.init) but is not a Parameter: it never trains"


class TensorAttributeRequiresGrad(Rule):
    code = "GS101"
    name = "tensor-attribute-requires-grad"
    framework = "torch"
    summary = "A `requires_grad=True` tensor stored on a module is not a parameter: the optimizer never sees it"
    message = "tensor with requires_grad=True is not a registered parameter; wrap it in nn.Parameter(...)"
    explanation = (
        "A plain tensor assigned to a module attribute is not in model.parameters(): backward fills its .grad, "
        "but an optimizer built from model.parameters() never updates it, and state_dict() does not save it."
    )
    hint = "use `self.w = nn.Parameter(torch.randn(...))`"
    fix_safety = "safe"
    facts = ("pt01",)
    triggers = ("requires_grad", "init.")
    doc = """
    ## What it does
    Flags `self.x = torch.randn(..., requires_grad=True)` (or any tensor factory, or
    `.requires_grad_()` on one) inside a `torch.nn.Module` class, including classes whose
    module base is defined in another file of the project and attributes set in helper
    methods, also through `setattr(self, name, tensor)` (a name built at run time, as in an
    `add_weight(name, shape)` helper of the module). Also the same tensor one step removed:
    what `nn.init.*_` returns (`self.w = nn.init.kaiming_uniform_(torch.empty(o, i))`), a
    local stored on the module (`w = torch.randn(o, i); self.w = w.requires_grad_()`), an
    in-place initialiser before `.requires_grad_()`, and a factory tensor whose
    `requires_grad` the class switches on in a statement of its own
    (`self.s = torch.zeros(d)` then `self.s.requires_grad = True`).

    ## Why it breaks gradients
    A plain tensor attribute is not registered: it is missing from `model.parameters()`,
    `state_dict()` and `model.to(device)`. Backward does fill its `.grad`, but an optimizer built
    from `model.parameters()` never updates it, so the weight keeps its initial value while the
    loss moves. If it is the module's only weight the optimizer raises "optimizer got an empty
    parameter list" (fact pt01).

    `nn.Parameter(...)`, `register_buffer(...)`, tensors in classes that are not modules,
    tensors created inside functions, and tensors the file hands to an optimizer by name
    (SAC's `self.log_alpha = torch.zeros(1, requires_grad=True)` with
    `Adam([self.log_alpha])`: that optimizer does update it) are not flagged.

    ## Example
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.randn(3, requires_grad=True)
    ```

    ## Use instead
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3))
    ```

    ## References
    - PyTorch docs: `torch.nn.Parameter`, `Module.register_parameter`
    - gradscan facts: pt01
    """
    invalid = (
        """
        import torch
        from torch import nn

        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.randn(3, requires_grad=True)  # error: GS101
                self.b = torch.zeros(3).requires_grad_()  # error: GS101

            def forward(self, x):
                return x * self.w + self.b
        """,
    )
    valid = (
        """
        import torch
        from torch import nn

        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3))
                self.register_buffer("c", torch.zeros(3))

        class NotAModule:
            def __init__(self):
                self.w = torch.randn(3, requires_grad=True)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        handed = None
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            initialised = self._initialised_like_weights(model, cls)
            flagged = requires_grad_set_later(model, cls)
            for attr, value, _node, _method in cls.self_assigns:
                seen, init_call = self._through_local(model, value)
                weight_init = (attr in initialised or init_call) and is_tensor_factory(model, seen)
                if requires_grad_tensor(model, seen) or weight_init or (attr in flagged and is_tensor_factory(model, seen)):
                    if handed is None:
                        handed = self._handed_to_optimizer(model)
                    if attr in handed:
                        continue  # `Adam([self.log_alpha])`: an optimizer does update it
                    if weight_init and not requires_grad_tensor(model, seen) and attr not in flagged:
                        yield Report(value, INIT_MESSAGE.format(attr=attr), fix=self._fix(model, value))
                    else:
                        yield Report(value, fix=self._fix(model, value))
            for attr, value in self._setattr_values(cls):
                if requires_grad_tensor(model, value):
                    if handed is None:
                        handed = self._handed_to_optimizer(model)
                    if attr not in handed:
                        yield Report(value, fix=self._fix(model, value))

    @staticmethod
    def _through_local(model: FileModel, value):
        """What the stored value is made of: `nn.init.kaiming_uniform_(torch.empty(o, i))` is
        its argument (the init functions fill and return it); a local name (`w = torch.randn(o, i)`,
        also under `w.requires_grad_()`) is its only assignment in the method. Returns (the
        expression to judge, whether an `nn.init` function filled it)."""
        init_call = False
        fn = model.enclosing_function(value)
        for _ in range(4):
            if isinstance(value, cst.Call) and (model.callee(value) or "").startswith("torch.nn.init.") \
                    and (model.callee(value) or "").endswith("_") and value.args and value.args[0].keyword is None:
                value, init_call = value.args[0].value, True
                continue
            receiver, outer = value, None
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "requires_grad_":
                receiver, outer = value.func.value, value
            if not isinstance(receiver, cst.Name):
                break
            local = local_value(model, fn, receiver.value)
            if local is None:
                break
            if any((model.callee(call) or "").startswith("torch.nn.init.") and call.args and dotted(call.args[0].value) == receiver.value
                   for call in (fn.calls if fn is not None else ())):
                init_call = True  # `w = torch.empty(o, i); nn.init.xavier_uniform_(w); self.w = w`
            value = local if outer is None else outer.with_changes(func=outer.func.with_changes(value=local))
        return value, init_call

    @staticmethod
    def _setattr_values(cls):
        """(attribute, value) of each `setattr(self, name, value)` in the class's methods: the
        same `Module.__setattr__` as `self.name = value`, with the name often computed
        (`setattr(self, f"gain{i}", ...)` in an `add_weight`-style helper): `<dynamic>` then."""
        for fn in cls.methods.values():
            if not fn.params or fn.params[0] != "self":
                continue
            for call in fn.calls:
                if not (isinstance(call.func, cst.Name) and call.func.value == "setattr") or len(call.args) != 3:
                    continue
                if any(a.keyword is not None or a.star for a in call.args) or dotted(call.args[0].value) != "self":
                    continue
                name = call.args[1].value
                attr = name.evaluated_value if isinstance(name, cst.SimpleString) else "<dynamic>"
                yield attr, call.args[2].value

    @staticmethod
    def _initialised_like_weights(model: FileModel, cls) -> Set[str]:
        """Attributes the class hands to `nn.init.*_` (`nn.init.xavier_uniform_(self.w)`): meant
        to be trained, whatever else is said about them."""
        out: Set[str] = set()
        for c in model.class_chain(cls):
            for fn in c.methods.values():
                for call in fn.calls:
                    if (model.callee(call) or "").startswith("torch.nn.init.") and call.args:
                        text = dotted(call.args[0].value) or ""
                        if text.startswith("self.") and text.count(".") == 1:
                            out.add(text[len("self."):])
        return out

    @staticmethod
    def _handed_to_optimizer(model: FileModel) -> Set[str]:
        """Attributes passed by name to an optimizer the file builds (`torch.optim.Adam([self.log_alpha])`,
        `SGD([{"params": [agent.temperature]}])`): SAC's temperature kept as a plain leaf."""
        out: Set[str] = set()
        if "optim" not in model.source:
            return out
        for call, _fn in model.calls:
            name = model.callee(call) or ""
            if not name.startswith("torch.optim.") or name.startswith("torch.optim.lr_scheduler"):
                continue
            for arg in call.args[:1] if call.args and call.args[0].keyword is None else [a for a in call.args if a.keyword is not None and a.keyword.value == "params"]:
                todo = [arg.value]
                while todo:
                    node = todo.pop()
                    if isinstance(node, (cst.List, cst.Tuple)):
                        todo.extend(e.value for e in node.elements)
                    elif isinstance(node, cst.Dict):
                        todo.extend(e.value for e in node.elements if isinstance(e, cst.DictElement))
                    elif isinstance(node, cst.Attribute):
                        out.add(node.attr.value)
        return out

    @staticmethod
    def _fix(model: FileModel, value: cst.BaseExpression):
        """`torch.randn(3, requires_grad=True)` -> `nn.Parameter(torch.randn(3))` (plain factory calls only)."""
        if not isinstance(value, cst.Call) or model.callee(value) not in TENSOR_FACTORIES:
            return None
        spelling = nn_spelling(model, "Parameter")
        if spelling is None:
            return None
        inner = value.with_changes(args=drop_keyword(value.args, "requires_grad"))
        return (value, cst.Call(func=cst.parse_expression(spelling), args=[cst.Arg(inner)]), "Wrap the tensor in nn.Parameter")
