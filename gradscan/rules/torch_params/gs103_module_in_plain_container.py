from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import (
    CONTAINER, MAYBE, MODE, PARAMS, PROJECT, functions_within, is_parameter_call, is_self, module_ctor,
)
from gradscan.rules.torch_params.helpers import local_value, mentions, nn_spelling, root_method
from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

TORCH_NN_CONTAINERS = {
    "torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.Sequential", "torch.nn.ParameterList",
    "torch.nn.ParameterDict",
}


def _calls_in(expr: cst.CSTNode) -> List[cst.Call]:
    """The calls in an expression, not those in the lambdas it holds."""
    return [node for node in descendants(expr, prune=(cst.Lambda,)) if type(node) is cst.Call]


_HARMLESS_CONSUMERS = {
    "len", "enumerate", "zip", "reversed", "iter", "isinstance", "print", "range", "sorted", "list", "tuple",
    "id", "repr", "str", "any", "all", "sum", "min", "max", "map", "filter", "next", "type", "hasattr",
}


class ModuleInPlainContainer(Rule):
    code = "GS103"
    name = "module-in-plain-container"
    framework = "torch"
    summary = "Modules or parameters held in a plain list, tuple or dict are not registered"
    message = "modules ({named}) in a plain {container} are not registered and never train; use {use}"
    explanation = (
        "A module registers the modules and parameters assigned to it, never the items of a Python container: "
        "model.parameters() misses their weights (the optimizer never updates them), state_dict() does not save "
        "them, and model.eval() and .to() never reach them (an nn.Dropout keeps dropping at inference)."
    )
    hint = "use nn.ModuleList / nn.ModuleDict (nn.ParameterList / nn.ParameterDict for parameters)"
    fix_safety = "safe"
    facts = ("pt03",)
    triggers = ("self",)
    doc = """
    ## What it does
    Flags a list, tuple or dict of freshly constructed modules or `nn.Parameter`s assigned to an
    attribute of a `torch.nn.Module`: a literal, a comprehension, `list(...)`/`tuple(...)` of
    one, an empty `self.x = []` or `{}` that is filled later with `append`/`extend`/`insert` or
    item assignment, or a local list built that way (also grown with `+=`) and then stored on
    `self` (also as `list(local)`, or returned by a helper of the file); a `dict(...)` or
    `collections.OrderedDict(...)` call of modules (keywords or pairs); list concatenation
    (`[Cell(a)] + [Cell(h) for _ in range(n)]`); and a plain list re-stored as `list(self.x)`.
    Elements may be made by a helper of the file every return of which builds a module (a
    function nested in `__init__`, `self.make_block(w)`) or be `copy.deepcopy` of a parameter
    annotated as a module; a container may be filled through a helper of the file that only
    appends or inserts what it is given (`append(self.downs, enc)`); a registered container
    assigned in the other branch of an `if` registers nothing in this one. A bare
    `nn.Module()` holder counts as a module with weights when modules with weights are set on
    it (`down = nn.Module(); down.block = blocks; self.down.append(down)`). A parameter holds
    modules when its annotation says so: `list(layers)` of `layers: List[nn.Module]` (also
    `Sequence`, `Tuple`, a `Union` member) or of `*blocks: nn.Module`, and `self.layers = layers`
    itself when every construction of the class in the file passes a list display.

    ## Why it breaks gradients
    `nn.Module.__setattr__` registers modules and parameters, never the items of a Python
    container. A model holding its layers in a list has zero parameters from them (fact pt03):
    backward still fills their `.grad`, but an optimizer built from `model.parameters()` never
    updates them, `state_dict()` does not save them and `model.to(device)` does not move them.

    Parameter-free modules in a plain list are a bug too, though not a gradient one:
    `model.eval()` and `model.train()` never reach them, so an `nn.Dropout` held in a list keeps
    dropping at inference and a `BatchNorm` keeps updating its statistics.

    Not flagged: `nn.ModuleList`, `nn.ModuleDict`, `nn.ParameterList`, `nn.ParameterDict`,
    `nn.Sequential`; containers of things that are not modules or parameters (functions such as
    `F.relu`, strings, shapes) or only of stateless modules such as `nn.ReLU`; containers of
    modules already registered elsewhere (`[self.conv1, self.conv2]`); containers the class
    registers some other way (`self.add_module`, `register_module`, `setattr` loops, passing
    the container to `nn.Sequential(*...)`, `nn.ModuleList(...)` or a helper that does anything
    with it but test it or add to it).

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(8, 8) for _ in range(3)]
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
    ```

    ## References
    - PyTorch docs: `torch.nn.ModuleList`, `torch.nn.ModuleDict`, `torch.nn.ParameterList`
    - gradscan facts: pt03
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = [nn.Linear(8, 8) for _ in range(3)]  # error: GS103
                self.heads = {"a": nn.Linear(8, 1), "b": nn.Linear(8, 1)}  # error: GS103
                self.drop = [nn.Dropout(0.1)]  # error: GS103
                self.blocks = []  # error: GS103
                for _ in range(2):
                    self.blocks.append(nn.Linear(8, 8))

            def forward(self, x):
                for layer in self.layers:
                    x = self.drop[0](layer(x))
                return x
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
                self.acts = [F.relu, torch.tanh]
                self.shapes = [(8, 8), (8, 1)]
                self.pair = [self.layers[0], self.layers[1]]
                self.plain = [nn.ReLU(), nn.Identity()]
                self.extra = [nn.Linear(8, 8)]
                self.extra_net = nn.Sequential(*self.extra)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            methods = set(self._methods(cls))
            dynamic_modules, dynamic_params = self._registers_otherwise(model, cls)
            for attr, value, node, method in cls.self_assigns:
                fn = cls.methods.get(method)
                if fn is not None and fn.name in ("forward", "__call__"):
                    continue  # a module created in forward is GS106's finding
                found = self._contents(model, cls, methods, attr, value)
                if found is None:
                    continue
                container, elements, local = found
                kinds_found = [k for k in (self._element_kind(model, e) for e in elements) if k is not None]
                has_module = any(k[1] in (PARAMS, MODE, PROJECT, CONTAINER) for k in kinds_found)
                has_param = any(k[1] == "parameter" for k in kinds_found)
                if not has_module and not has_param:
                    continue
                if (has_module and dynamic_modules) or (has_param and dynamic_params):
                    continue
                if self._escapes(model, methods, f"self.{attr}", node) or (local is not None and self._escapes(model, methods, local[0], local[1])):
                    continue
                if self._reassigned(model, cls, attr, node):
                    continue
                fix = None if isinstance(value, cst.Call) else self._fix(model, value, container, elements, kinds_found, has_module, has_param, local)
                yield Report(value, self._message(kinds_found, container, has_module, has_param), fix=fix)

    # -- what the container holds --------------------------------------------------------
    @staticmethod
    def _methods(cls: ClassInfo) -> List[FunctionInfo]:
        return list(cls.methods.values())

    def _contents(self, model: FileModel, cls: ClassInfo, methods, attr: str, value):
        """(container kind, element expressions, (local name, its assignment) or None)."""
        value = _unwrap_repeat(value)
        kind = _literal_kind(model, value)
        if kind is not None:
            container, elements = kind
            if elements:
                return container, elements, None
            appended = self._appended(model, methods, f"self.{attr}", container)
            return (container, appended, None) if appended else None
        if isinstance(value, cst.Name):
            found = self._local_container(model, value)
            if found is None and _sequence_parameter(model, value, plain_only=True) is not None:
                return "tuple" if _is_star_param(model, value) else "list", [value], None
            return found
        copied = _copied_name(model, value)
        if copied is not None:  # `self.d_h = list(d_h)`: a copy is as plain as the local list
            found = self._local_container(model, copied)
            if found is None and _sequence_parameter(model, copied) is not None:
                return dotted(value.func), [copied], None  # `self.layers = list(layers)`, `layers: List[nn.Module]`
            return found
        if _copied_name(model, value, f"self.{attr}") is not None:
            # `self.x = [Block(), ...]` then `self.x = list(self.x)` where `nn.ModuleList(self.x)`
            # was meant: the copy is the line to change, holding what the first assignment held
            for c in model.class_chain(cls):
                for other_attr, other, _node, _m in c.self_assigns:
                    if other_attr == attr and other is not value and not mentions(other, f"self.{attr}"):
                        found = self._contents(model, cls, methods, attr, other)
                        if found is not None:
                            return found
            return None
        if isinstance(value, cst.Call):
            return self._returned_container(model, cls, value)
        return None

    def _returned_container(self, model: FileModel, cls: ClassInfo, call: cst.Call):
        """`self.blocks = make_blocks(4, d)` where the file's `make_blocks` (or `self._make`)
        returns a plain list or dict it builds: the same container, one call away."""
        func = call.func
        target = None
        if isinstance(func, cst.Name) and model.resolve(func) is None:
            target = model.module_functions.get(func.value)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
            target = model.find_method(cls, func.attr.value)
        if target is None or not target.returns:
            return None
        found = None
        for ret in target.returns:
            if not isinstance(ret, cst.Return) or ret.value is None or model.enclosing_function(ret) is not target:
                return None
            value = _unwrap_repeat(ret.value)
            kind = _literal_kind(model, value)
            if kind is not None and kind[1]:
                got = (kind[0], kind[1])
            elif isinstance(value, cst.Name):
                local = self._local_container(model, value)
                if local is None:
                    return None
                got = (local[0], local[1])
            else:
                return None
            if found is not None and found[0] != got[0]:
                return None
            found = got if found is None else (found[0], found[1] + got[1])
        return (found[0], found[1], None) if found else None

    def _local_container(self, model: FileModel, name: cst.Name):
        """`layers = [...]` (or `[]` then `layers.append(...)`) in the same function, then `self.x = layers`."""
        fn = model.enclosing_function(name)
        if fn is None:
            return None
        bound = []
        added: List[cst.BaseExpression] = []
        for node, owner in model.assignments:
            if owner is not fn:
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [getattr(node, "target", None)]
            if any(isinstance(t, cst.Name) and t.value == name.value for t in targets):
                if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
                    more = _literal_kind(model, node.value)  # `layers += [nn.Linear(a, b), act()]`
                    if more is None or more[0] not in ("list", "tuple"):
                        return None
                    added.extend(more[1])
                    continue
                bound.append(node)
        if len(bound) != 1 or not isinstance(bound[0], cst.Assign) or len(bound[0].targets) != 1:
            return None
        value = _unwrap_repeat(bound[0].value)
        kind = _literal_kind(model, value)
        if kind is None:
            return None
        container, elements = kind
        if added and container != "list":
            return None
        elements = elements + added
        if not elements:
            elements = self._appended(model, [fn], name.value, container)
        if not elements:
            return None
        return container, elements, (name.value, bound[0])

    @staticmethod
    def _appended(model: FileModel, functions, target: str, container: str) -> List[cst.BaseExpression]:
        out: List[cst.BaseExpression] = []
        scope = set(functions)
        for call, owner in model.calls:
            if root_method(owner) not in scope and owner not in scope:
                continue
            func = call.func
            if isinstance(func, cst.Name):
                for arg in call.args:
                    if dotted(arg.value) == target:
                        role = _helper_role(model, call, arg)
                        if role:
                            out.extend(role)
                continue
            if not (isinstance(func, cst.Attribute) and dotted(func.value) == target):
                continue
            if func.attr.value == "append" and call.args:
                out.append(call.args[0].value)
            elif func.attr.value == "insert" and len(call.args) > 1:
                out.append(call.args[1].value)
            elif func.attr.value == "extend" and call.args:
                inner = _literal_kind(model, call.args[0].value)
                if inner is not None:
                    out.extend(inner[1])
        if container == "dict":
            for node, owner in model.assignments:
                if root_method(owner) not in scope and owner not in scope:
                    continue
                if isinstance(node, cst.Assign):
                    for t in node.targets:
                        if isinstance(t.target, cst.Subscript) and dotted(t.target.value) == target:
                            out.append(node.value)
        return out

    @staticmethod
    def _element_kind(model: FileModel, expr, depth: int = 0) -> Optional[Tuple[str, str]]:
        if isinstance(expr, cst.Name):  # `enc = Encoder(d); self.downs.append(enc)`
            seq = _sequence_parameter(model, expr)
            if seq is not None:
                return seq  # the parameter a container copies holds modules (its annotation says so)
            fn = model.enclosing_function(expr)
            value = local_value(model, fn, expr.value)
            if value is None and depth <= 2 and _bare_module(model, fn, expr.value):
                # `down = nn.Module(); down.block = blocks; self.down.append(down)`: a bare module
                # holds the weights of the modules set on it
                held = [ModuleInPlainContainer._element_kind(model, v, depth + 1) for v in _set_on(model, fn, expr.value)]
                if any(k is not None and k[1] in (PARAMS, PROJECT, CONTAINER, "parameter") for k in held):
                    return ("nn.Module", CONTAINER)
                return None
            expr = value or expr
        if is_parameter_call(model, expr):
            return ("nn.Parameter", "parameter")
        found = module_ctor(model, expr)
        if found is not None or depth > 2 or not isinstance(expr, cst.Call):
            return found
        if model.callee(expr) == "copy.deepcopy" and len(expr.args) == 1:
            # `[copy.deepcopy(layer) for _ in range(n)]`: fresh copies, as unregistered as new modules
            return _annotated_module(model, expr.args[0].value) or ModuleInPlainContainer._element_kind(model, expr.args[0].value, depth + 1)
        helper = _builder(model, expr)
        if helper is None:
            return None
        kinds = []
        for ret in helper.returns:
            if not isinstance(ret, cst.Return) or ret.value is None or model.enclosing_function(ret) is not helper:
                return None
            kind = ModuleInPlainContainer._element_kind(model, ret.value, depth + 1)
            if kind is None:
                return None
            kinds.append(kind)
        # `self.conv_block(c)`, `stage(a, b)`: a helper of the file every return of which builds a module
        return kinds[0] if kinds and all(k == kinds[0] for k in kinds) else None

    # -- ways the class registers or hands on the container ------------------------------
    @staticmethod
    def _registers_otherwise(model: FileModel, cls: ClassInfo) -> Tuple[bool, bool]:
        modules = params = False
        for c in model.class_chain(cls):
            for fn in c.methods.values():
                for inner in functions_within(model, fn):
                    for call in inner.calls:
                        func = call.func
                        name = func.attr.value if isinstance(func, cst.Attribute) else (func.value if isinstance(func, cst.Name) else None)
                        if name in ("add_module", "register_module"):
                            modules = True
                        elif name == "register_parameter":
                            params = True
                        elif name == "setattr" and call.args and is_self(call.args[0].value):
                            if len(call.args) < 2 or not isinstance(call.args[1].value, cst.SimpleString):
                                modules = params = True
        return modules, params

    @staticmethod
    def _escapes(model: FileModel, methods, target: str, assign_node) -> bool:
        """The container is handed to a call that may register it (`nn.Sequential(*layers)`,
        `nn.ModuleList(self.layers)`, a helper), or `super().__init__(layers)`."""
        scope = set(methods)
        for call, owner in model.calls:
            if root_method(owner) not in scope and owner not in scope:
                continue
            for arg in call.args:
                if _hands_on(arg.value, target):
                    name = dotted(call.func)
                    if name in _HARMLESS_CONSUMERS and not arg.star:
                        continue
                    if dotted(arg.value) == target and _helper_role(model, call, arg) is not None:
                        continue  # `exists(self.attn)`, `append(self.downs, enc)`: tests or fills it
                    return True
        return False

    @staticmethod
    def _reassigned(model: FileModel, cls: ClassInfo, attr: str, node) -> bool:
        for c in model.class_chain(cls):
            for other_attr, value, other, _m in c.self_assigns:
                if other_attr != attr or other is node or _exclusive(model, node, other):
                    continue
                if any(model.callee(call) in TORCH_NN_CONTAINERS for call in _calls_in(value)):
                    return True
                if mentions(value, f"self.{attr}"):
                    return True  # `self.x = wrap(self.x)`; a plain `list(self.x)` is reported there
        return False

    # -- message and fix -----------------------------------------------------------------
    def _message(self, kinds_found, container: str, has_module: bool, has_param: bool) -> str:
        named = clip(", ".join(dict.fromkeys(k[0] for k in kinds_found if k[1] in (PARAMS, MODE, PROJECT, CONTAINER, MAYBE, "parameter"))), 32)
        if has_param and not has_module:
            use = "nn.ParameterDict" if container == "dict" else "nn.ParameterList"
            return f"parameters ({named}) in a plain {container} are not registered and never train; use {use}"
        use = "nn.ModuleDict" if container == "dict" else "nn.ModuleList"
        if any(k[1] in (PARAMS, PROJECT, CONTAINER, "parameter") for k in kinds_found):
            return self.message.format(named=named, container=container, use=use)
        return f"modules ({named}) in a plain {container} are not registered: .eval() misses them; use {use}"

    @staticmethod
    def _fix(model: FileModel, value, container: str, elements, kinds_found, has_module: bool, has_param: bool, local):
        if local is not None or container == "tuple" or (has_module and has_param):
            return None
        if len(kinds_found) != len(elements):
            return None  # something in it is not a constructed module or parameter
        wrapper = ("ParameterDict" if container == "dict" else "ParameterList") if has_param else ("ModuleDict" if container == "dict" else "ModuleList")
        spelling = nn_spelling(model, wrapper)
        if spelling is None:
            return None
        if _unwrap_repeat(value) is not value:
            return None
        if isinstance(value, cst.List) and not value.elements:
            return (value, f"{spelling}()", f"Use {wrapper}")
        if isinstance(value, (cst.List, cst.ListComp)):
            return (value, _wrapped(spelling, value), f"Wrap in {wrapper}")
        if isinstance(value, cst.Dict) and all(isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) for e in value.elements):
            if not value.elements:
                return (value, f"{spelling}()", f"Use {wrapper}")
            return (value, _wrapped(spelling, value), f"Wrap in {wrapper}")
        if isinstance(value, cst.Call) and dotted(value.func) == "list" and len(value.args) == 1 and not value.args[0].star:
            return (value, _wrapped(spelling, value.args[0].value), f"Use {wrapper}")
        if isinstance(value, cst.Call) and dotted(value.func) == "list" and not value.args:
            return (value, f"{spelling}()", f"Use {wrapper}")
        return None


def _bare_module(model: FileModel, fn: Optional[FunctionInfo], name: str) -> bool:
    """`name = nn.Module()` is the only plain assignment of the local `name` in `fn`."""
    values = [node.value for node, owner in model.assignments
              if owner is fn and fn is not None and isinstance(node, cst.Assign)
              and any(isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets)]
    return len(values) == 1 and isinstance(values[0], cst.Call) and not values[0].args \
        and model.callee(values[0]) == "torch.nn.Module"


def _set_on(model: FileModel, fn: Optional[FunctionInfo], name: str) -> List[cst.BaseExpression]:
    """The values `fn` assigns to attributes of the local `name` (`down.block = blocks`)."""
    out = []
    for node, owner in model.assignments:
        if owner is not fn or not isinstance(node, cst.Assign):
            continue
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == name:
                out.append(node.value)
    return out


def _wrapped(spelling: str, value: cst.BaseExpression) -> cst.Call:
    """`nn.ModuleList(<value>)`, as a node rendered in place (a literal spanning lines keeps its indentation)."""
    return cst.Call(func=cst.parse_expression(spelling), args=[cst.Arg(value)])


def _hands_on(expr, target: str) -> bool:
    """`target`, `target + other`, `[target, ...]`: the container itself is what is passed."""
    if dotted(expr) == target:
        return True
    if isinstance(expr, cst.BinaryOperation):
        return _hands_on(expr.left, target) or _hands_on(expr.right, target)
    if isinstance(expr, (cst.List, cst.Tuple)):
        return any(isinstance(e, (cst.Element, cst.StarredElement)) and _hands_on(e.value, target) for e in expr.elements)
    return False


def _unwrap_repeat(value):
    """`[nn.Linear(..)] * n` -> the list."""
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply):
        if isinstance(value.left, cst.List):
            return value.left
        if isinstance(value.right, cst.List):
            return value.right
    return value


def _literal_kind(model: FileModel, value) -> Optional[Tuple[str, List[cst.BaseExpression]]]:
    """("list" | "tuple" | "dict", the element expressions) of a container literal or comprehension."""
    if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
        kind = "tuple" if isinstance(value, cst.Tuple) else "list" if isinstance(value, cst.List) else "set"
        return kind, [e.value for e in value.elements if isinstance(e, cst.Element)]
    if isinstance(value, cst.ListComp):
        return "list", [value.elt]
    if isinstance(value, cst.Dict):
        return "dict", [e.value for e in value.elements if isinstance(e, cst.DictElement)]
    if isinstance(value, cst.DictComp):
        return "dict", [value.value]
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add):
        left, right = _literal_kind(model, value.left), _literal_kind(model, value.right)
        if left is not None and right is not None and left[0] == right[0] and left[0] in ("list", "tuple"):
            return left[0], left[1] + right[1]  # `[Cell(a, h)] + [Cell(h, h) for _ in range(n)]`
        return None
    if isinstance(value, cst.Call) and (
            (dotted(value.func) == "dict" and model.resolve(value.func) is None)
            or model.callee(value) in ("collections.OrderedDict", "typing.OrderedDict")):
        return "dict", _mapping_values(value)
    if isinstance(value, cst.Call) and dotted(value.func) in ("list", "tuple", "dict") and model.resolve(value.func) is None:
        kind = dotted(value.func)
        if not value.args:
            return kind, []
        if len(value.args) == 1 and not value.args[0].star and kind != "dict":
            inner = value.args[0].value
            if isinstance(inner, (cst.GeneratorExp, cst.ListComp)):
                return kind, [inner.elt]
            if isinstance(inner, (cst.List, cst.Tuple)):
                return kind, [e.value for e in inner.elements if isinstance(e, cst.Element)]
            if isinstance(inner, cst.BinaryOperation):  # `list([Cell(a)] + [Cell(h) for ...])`
                joined = _literal_kind(model, inner)
                return (kind, joined[1]) if joined is not None else None
            if isinstance(inner, cst.Call) and dotted(inner.func) == "map" and model.resolve(inner.func) is None \
                    and inner.args and isinstance(inner.args[0].value, cst.Lambda):
                return kind, [inner.args[0].value.body]  # `list(map(lambda k: nn.Conv1d(...), sizes))`
    return None


def _mapping_values(call: cst.Call) -> List[cst.BaseExpression]:
    """The values `dict(...)` / `OrderedDict(...)` is built with: keyword arguments, and the
    second item of each pair in a literal or comprehension of pairs
    (`OrderedDict([("conv1", nn.Conv2d(...)), ...])`). Anything else adds nothing."""
    out: List[cst.BaseExpression] = []
    for arg in call.args:
        if arg.keyword is not None:
            out.append(arg.value)
            continue
        if arg.star:
            continue
        inner = arg.value
        if isinstance(inner, cst.Dict):  # `dict({"a": nn.Linear(...)})`
            out.extend(e.value for e in inner.elements if isinstance(e, cst.DictElement))
            continue
        if isinstance(inner, cst.DictComp):
            out.append(inner.value)
            continue
        if isinstance(inner, cst.Call) and dotted(inner.func) == "dict":  # `dict(dict(a=...))`
            out.extend(_mapping_values(inner))
            continue
        pairs = [inner.elt] if isinstance(inner, (cst.ListComp, cst.GeneratorExp)) else \
            [e.value for e in inner.elements if isinstance(e, cst.Element)] if isinstance(inner, (cst.List, cst.Tuple)) else []
        for pair in pairs:
            if isinstance(pair, cst.Tuple) and len(pair.elements) == 2:
                out.append(pair.elements[1].value)
    return out


def _copied_name(model: FileModel, value, target: Optional[str] = None):
    """`list(x)` / `tuple(x)` (Python's own): the copied name node (a plain `x` when `target`
    is None, else the expression spelled `target`), or None."""
    if not (isinstance(value, cst.Call) and dotted(value.func) in ("list", "tuple") and model.resolve(value.func) is None):
        return None
    if len(value.args) != 1 or value.args[0].star or value.args[0].keyword is not None:
        return None
    inner = value.args[0].value
    if target is None:
        return inner if isinstance(inner, cst.Name) else None
    return inner if dotted(inner) == target else None


def _builder(model: FileModel, call: cst.Call) -> Optional[FunctionInfo]:
    """The function of the file `call` runs: `helper(...)` (module level or nested in the
    caller's scope) or `self.method(...)`; None for anything else."""
    func = call.func
    caller = model.enclosing_function(call)
    if isinstance(func, cst.Name) and model.resolve(func) is None:
        scope = caller
        while scope is not None:  # a function nested in the constructor (or an outer one)
            for fn in model.functions:
                if fn.parent is scope and fn.name == func.value:
                    return fn
            scope = scope.parent
        return model.module_functions.get(func.value)
    if isinstance(func, cst.Attribute) and is_self(func.value) and caller is not None and caller.cls is not None:
        return model.find_method(caller.cls, func.attr.value)
    return None


_SEQUENCES = {"typing.List", "typing.Sequence", "typing.Tuple", "typing.Iterable", "collections.abc.Sequence",
              "collections.abc.Iterable", "list", "tuple"}


def _param_node(model: FileModel, name: cst.Name):
    fn = model.enclosing_function(name)
    if fn is None or not isinstance(fn.node, cst.FunctionDef):
        return None, None
    p = fn.node.params
    star = p.star_arg if isinstance(p.star_arg, cst.Param) else None
    for param in (*p.posonly_params, *p.params, *p.kwonly_params, *([star] if star else [])):
        if param.name.value == name.value:
            return fn, param
    return fn, None


def _is_star_param(model: FileModel, name: cst.Name) -> bool:
    fn, param = _param_node(model, name)
    return param is not None and fn.node.params.star_arg is param


def _sequence_parameter(model: FileModel, name: cst.Name, plain_only: bool = False) -> Optional[Tuple[str, str]]:
    """A parameter that holds torch modules by its annotation: `*blocks: nn.Module` (always a
    tuple), or `layers: List[nn.Module]` (`Sequence`, `list[...]`, `Tuple[..., ...]`, also one
    member of a `Union`): what an element holds. With `plain_only`, a sequence annotation counts
    only when every construction of the class in this file passes a list display (a caller may
    pass an nn.ModuleList for it)."""
    if model.single_value(model.enclosing_function(name), name.value) is not None:
        return None  # re-bound in the function: not the parameter any more
    fn, param = _param_node(model, name)
    if param is None or param.annotation is None:
        return None
    ann = param.annotation.annotation
    if fn.node.params.star_arg is param:
        return _module_annotation(model, ann)
    for member in _union_members(model, ann):
        if isinstance(member, cst.Subscript) and (model.resolve(member.value) or dotted(member.value)) in _SEQUENCES:
            items = [e.slice.value for e in member.slice if isinstance(e.slice, cst.Index)]
            kind = _module_annotation(model, items[0]) if items else None
            if kind is None:
                continue
            if plain_only and not _passed_plain(model, fn, name.value):
                return None
            return kind
    return None


def _union_members(model: FileModel, ann) -> List[cst.BaseExpression]:
    if isinstance(ann, cst.Subscript) and (model.resolve(ann.value) or dotted(ann.value)) in ("typing.Union", "typing.Optional"):
        return [e.slice.value for e in ann.slice if isinstance(e.slice, cst.Index)]
    if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
        return _union_members(model, ann.left) + _union_members(model, ann.right)
    return [ann]


def _module_annotation(model: FileModel, ann) -> Optional[Tuple[str, str]]:
    if not isinstance(ann, (cst.Name, cst.Attribute)):
        return None
    if model.resolve(ann) == "torch.nn.Module":
        return "nn.Module", PROJECT
    found = module_ctor(model, cst.Call(func=ann))
    return found if found is not None and found[1] in (PARAMS, PROJECT, CONTAINER) else None


def _passed_plain(model: FileModel, fn: FunctionInfo, name: str) -> bool:
    """Every construction of `fn`'s class in this file passes a list or tuple display for `name`."""
    if fn.cls is None or fn.name != "__init__":
        return False
    passed = model.objects.stored_arguments(cst.Name(name), fn.cls, "__init__")
    return bool(passed) and all(_literal_kind(model, arg) is not None and _literal_kind(model, arg)[0] in ("list", "tuple")
                                for arg, _where in passed)


def _annotated_module(model: FileModel, expr) -> Optional[Tuple[str, str]]:
    """A parameter annotated as a torch module class (`layer: nn.TransformerEncoderLayer`,
    `block: MyBlock`): what a fresh instance of that class holds."""
    if not isinstance(expr, cst.Name):
        return None
    fn = model.enclosing_function(expr)
    if fn is None:
        return None
    p = fn.node.params
    for param in (*p.posonly_params, *p.params, *p.kwonly_params):
        if param.name.value == expr.value and param.annotation is not None:
            ann = param.annotation.annotation
            if isinstance(ann, (cst.Name, cst.Attribute)):
                made = cst.Call(func=ann)
                if model.resolve(ann) == "torch.nn.Module":
                    return "nn.Module", PROJECT  # a copy of some module: what it holds is unknown, but it is fresh
                return module_ctor(model, made)
    return None


_FILLERS = {"append": 0, "insert": 1, "extend": None}


def _helper_role(model: FileModel, call: cst.Call, arg: cst.Arg) -> Optional[List[cst.BaseExpression]]:
    """What a module-level function of the file does with the container passed as `arg`:
    only tests it (`exists(v)`: `v is not None`, `len(v)`): []; only adds to it
    (`append(arr, el)`: `arr.append(el)`, `arr.insert(0, el)`): the expressions the call passes
    for what is added. Anything else (stored, returned, passed on): None."""
    func = call.func
    if not (isinstance(func, cst.Name) and model.resolve(func) is None) or arg.star or arg.keyword is not None:
        return None
    fn = model.module_functions.get(func.value)
    if fn is None or not isinstance(fn.node, cst.FunctionDef):
        return None
    params = fn.params
    index = call.args.index(arg)
    if any(a.star or a.keyword is not None for a in call.args[:index + 1]) or index >= len(params):
        return None
    name = params[index]
    added: List[cst.BaseExpression] = []
    for node in descendants(fn.node.body):
        if not (isinstance(node, cst.Name) and node.value == name):
            continue
        parent = model.parent(node)
        if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
            continue
        if isinstance(parent, cst.Arg) and dotted(model.parent(parent).func) in ("len", "isinstance"):
            continue
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _FILLERS:
            use = model.parent(parent)
            at = _FILLERS[parent.attr.value]
            if not isinstance(use, cst.Call) or at is None or len(use.args) <= at:
                return None
            value = use.args[at].value
            if not isinstance(value, cst.Name) or value.value not in params:
                return None  # adds something of its own: not what the caller passes
            passed = argument_for(fn, call, value.value)
            if passed is None:
                return None
            added.append(passed)
            continue
        return None
    return added


def _exclusive(model: FileModel, a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """`a` and `b` sit in different branches of one `if` (`if norm: self.x = [...]` /
    `else: self.x = nn.ModuleList(...)`): never both run, so one does not register the other."""
    seen = {}
    for anc in model.ancestors(a):
        seen[id(anc)] = anc
    child = b
    for anc in model.ancestors(b):
        if id(anc) in seen:
            if not isinstance(anc, cst.If):
                return False
            side_b = "body" if child is anc.body else "orelse" if child is anc.orelse else None
            prev = a
            for x in model.ancestors(a):
                if x is anc:
                    break
                prev = x
            side_a = "body" if prev is anc.body else "orelse" if prev is anc.orelse else None
            return side_a is not None and side_b is not None and side_a != side_b
        child = anc
    return False
