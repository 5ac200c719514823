"""Objects: which class of this file a value is an instance of, and which function a call
through an object runs.

`net = Net(); net.encode(x)`, `self.encoder.embed(x)`, `self(x)`, `model(x)` (a module's
`forward`), and a helper's parameter bound at its call sites (`train_step(G, D, batch)` called
with `G = Generator()`): the flow and the contexts follow such calls like `self.method(x)`.

Answers are exact or None: a name assigned two different classes, a parameter whose callers
pass different things, anything behind `*args`, or a class from another file comes out None.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import names as api_names
from gradscan.semantics.arguments import argument_for, positional_argument
from gradscan.semantics.names import dotted

if TYPE_CHECKING:
    from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo

# What calling an instance runs, by the class's framework (torch's __call__ runs forward).
CALL_METHODS = ("forward", "call", "__call__")
ARGUMENT_PRESERVING = api_names(jax_api.ARGUMENT_PRESERVING_TRANSFORMS)


class Objects:
    """Built once per file (`model.objects`)."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        # (id(scope) or 0 for module level, name) -> values assigned to the name there
        self._values: Dict[Tuple[int, str], List[cst.BaseExpression]] = {}
        for node, owner in model.assignments:
            if type(node) is cst.Assign:
                for t in node.targets:
                    for name, value in _pairs(t.target, node.value):
                        self._values.setdefault((id(owner) if owner else 0, name), []).append(value)
            elif type(node) is cst.AnnAssign and node.value is not None and type(node.target) is cst.Name:
                self._values.setdefault((id(owner) if owner else 0, node.target.value), []).append(node.value)
        # (scope, name) -> (call, index) for `a, b = factory(...)`: the position a name unpacks
        self._unpacked: Dict[Tuple[int, str], List[Tuple[cst.Call, int]]] = {}
        for node, owner in model.assignments:
            if type(node) is cst.Assign and len(node.targets) == 1 and type(node.value) is cst.Call:
                target = node.targets[0].target
                if type(target) in (cst.Tuple, cst.List):
                    for i, e in enumerate(target.elements):
                        if type(e) is cst.StarredElement:
                            break
                        if type(e.value) is cst.Name:
                            self._unpacked.setdefault((id(owner) if owner else 0, e.value.value), []).append((node.value, i))
        self._functions: Dict[Tuple[int, str], "FunctionInfo"] = {}
        for fn in model.functions:
            if type(fn.node) is cst.FunctionDef and not fn.is_method:
                self._functions.setdefault((id(fn.parent), fn.name), fn)
        self._callers: Optional[Dict[int, List[Tuple[cst.Call, Optional["FunctionInfo"]]]]] = None
        self._direct: Optional[Dict[int, List[Tuple[cst.Call, Optional["FunctionInfo"]]]]] = None
        self._busy: set = set()
        self._name_memo: Dict[Tuple[int, str], Optional["ClassInfo"]] = {}
        self._duck_memo: Dict[Tuple[int, str], Optional["ClassInfo"]] = {}
        self._constructed_names: Optional[set] = None

    # ---- instances ---------------------------------------------------------------------
    def instance_class(self, expr: cst.BaseExpression, scope: Optional["FunctionInfo"]) -> Optional["ClassInfo"]:
        """The class of this file `expr` (evaluated in `scope`) is an instance of, or None."""
        key = (id(expr), id(scope))
        if key in self._busy:  # a parameter bound to itself through recursion
            return None
        self._busy.add(key)
        try:
            return self._instance_class(expr, scope)
        finally:
            self._busy.discard(key)

    def _instance_class(self, expr, scope):
        model = self.model
        if expr is None:
            return None
        if type(expr) is cst.Call:
            cls = self._constructed(expr)
            if cls is None and type(expr.func) is cst.Name:
                factory = self._lookup(scope, expr.func.value)
                cls = self._returned_class(factory) if factory is not None else None
            return cls
        if type(expr) is cst.Name:
            if expr.value == "self":
                return _method_class(scope)
            return self._name_class(expr.value, scope)
        if type(expr) is cst.Attribute and dotted(expr.value) == "self":
            cls = _method_class(scope)
            if cls is None:
                return None
            pairs = [(v, c2, m) for c2 in model.class_chain(cls) for a, v, _n, m in c2.self_assigns if a == expr.attr.value]
            found = {id(c): c for c in (self.stored_class(v, c2, m) for v, c2, m in pairs)}
            if len(found) == 1 and None not in found.values():
                return next(iter(found.values()))
            if pairs and all(self._injected_elsewhere(v, c2, m) for v, c2, m in pairs):
                key = (id(cls), expr.attr.value)
                if key not in self._duck_memo:
                    self._duck_memo[key] = self._duck_class(self._methods_called_on_attr(cls, expr.attr.value))
                return self._duck_memo[key]
        return None

    def stored_class(self, value, owner: "ClassInfo", method: str) -> Optional["ClassInfo"]:
        """The class of what `self.attr = value` stores: a constructed object, or (`self.actor =
        actor` in `__init__`) what every construction of the owner class in this file passes."""
        if type(value) is cst.Call:
            return self._constructed(value)
        found = None
        for arg, caller in self.stored_arguments(value, owner, method) or ():
            cls = self.instance_class(arg, caller)
            if cls is None or (found is not None and cls is not found):
                return None
            found = cls
        return found

    def stored_arguments(self, value, owner: "ClassInfo", method: str) -> Optional[List[Tuple[cst.BaseExpression, Optional["FunctionInfo"]]]]:
        """What `self.attr = value` stores when `value` is a parameter of the owner's `__init__`
        (`self.backbone = backbone`): the argument each construction of the class in this file
        (the first 8) passes for it, with the caller's scope. None when `value` is no such
        parameter, the class is never constructed here, or a construction passes nothing known."""
        init = owner.methods.get(method)
        if type(value) is not cst.Name or method != "__init__" or init is None or value.value not in init.params:
            return None
        ctors = [(c, o) for c, o in self.model.calls if type(c.func) is cst.Name and c.func.value == owner.name]
        out = []
        for call, caller in ctors[:8]:
            arg = argument_for(init, call, value.value)
            if arg is None:
                return None
            out.append((arg, caller))
        return out or None

    def _returned_class(self, fn: "FunctionInfo") -> Optional["ClassInfo"]:
        """A factory of this file (`def make_trainer(net): return Trainer(net)`): the one class
        every `return` of `fn` gives an instance of; None when any returns something else."""
        values = [r.value for r in fn.returns if type(r) is cst.Return]
        if not values or len(values) != len(fn.returns) or any(v is None for v in values):
            return None
        found = {id(c): c for c in (self.instance_class(v, fn) for v in values)}
        return next(iter(found.values())) if len(found) == 1 and None not in found.values() else None

    def _annotated_class(self, fn: "FunctionInfo", name: str) -> Optional["ClassInfo"]:
        """A parameter annotated with a class of this file (`trainer: Trainer`, `"Trainer"`,
        `Optional[Trainer]` is not read): its declared type."""
        node = fn.node
        if type(node) is not cst.FunctionDef:
            return None
        for p in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if p.name.value != name or p.annotation is None:
                continue
            ann = p.annotation.annotation
            text = ann.value if type(ann) is cst.Name else ann.value.strip("'\"") if type(ann) is cst.SimpleString else None
            return self.model.classes.get(text) if text else None
        return None

    def _injected_elsewhere(self, value, owner: "ClassInfo", method: str) -> bool:
        """`self.attr = attr` in `__init__` of a class this file never constructs: the object
        comes from code the file does not show (a launcher, another module)."""
        init = owner.methods.get(method)
        if type(value) is not cst.Name or method != "__init__" or init is None or value.value not in init.params:
            return False
        if self._constructed_names is None:
            self._constructed_names = {c.func.value for c, _o in self.model.calls if type(c.func) is cst.Name}
        return owner.name not in self._constructed_names

    def _methods_called_on_attr(self, cls: "ClassInfo", attr: str) -> List[str]:
        """Names of the methods called on `self.<attr>` in `cls`, its local bases and subclasses."""
        model = self.model
        related = {id(c) for c in model.class_chain(cls)}
        related |= {id(c) for c in model.class_list if any(b is cls for b in model.class_chain(c))}
        out = []
        for call, owner in model.calls:
            func = call.func
            if type(func) is not cst.Attribute or type(func.value) is not cst.Attribute or func.value.attr.value != attr \
                    or dotted(func.value.value) != "self":
                continue
            top = _method_class(owner)
            if top is not None and id(top) in related:
                out.append(func.attr.value)
        return out

    def _duck_class(self, methods: List[str]) -> Optional["ClassInfo"]:
        """The one class of this file that has every method called on an object the file
        receives from elsewhere (`self.rssm.obs_step(...)`, `self.rssm.img_step(...)`), counting
        the methods some class of the file defines; `parameters`, `zero_grad` and other names no
        class here defines say nothing either way. Two such classes: unknown."""
        model = self.model
        names = {n for n in methods if not n.startswith("__") and any(n in c.methods for c in model.class_list)}
        if not names:
            return None
        fits = [c for c in model.class_list if all(model.find_method(c, n) is not None for n in names)]
        # A subclass that inherits the methods fits too: then the answer is the base every
        # fitting class derives from, when they all run the same functions.
        bases = [c for c in fits if all(any(b is c for b in model.class_chain(o)) for o in fits)]
        if len(bases) != 1:
            return None
        same = len({tuple(id(model.find_method(c, n)) for n in sorted(names)) for c in fits}) == 1
        return bases[0] if same else None

    def _constructed(self, call: cst.Call) -> Optional["ClassInfo"]:
        """`Net(...)`, `Net(...).to(device)`, `Net(...).cuda()`: a class of this file."""
        while type(call.func) is cst.Attribute and call.func.attr.value in ("to", "cuda", "cpu", "train", "double", "float") \
                and type(call.func.value) is cst.Call:
            call = call.func.value
        if type(call.func) is cst.Name:
            return self.model.classes.get(call.func.value)
        return None

    def _name_class(self, name: str, scope) -> Optional["ClassInfo"]:
        # Memoised per (scope, name): the answer does not depend on where the name is read, and
        # a long function reads the same name thousands of times.
        key = (id(scope), name)
        if key in self._name_memo:
            return self._name_memo[key]
        found = self._name_memo[key] = None  # a name defined from itself is unknown
        found = self._name_memo[key] = self._name_class_uncached(name, scope)
        return found

    def _name_class_uncached(self, name: str, scope) -> Optional["ClassInfo"]:
        while True:
            values = self._values.get((id(scope) if scope else 0, name))
            if values:
                if not all(type(v) in (cst.Call, cst.Name, cst.Attribute) for v in values):
                    return None  # `x = x.detach() + 1`: not an object of a class
                classes = {id(c): c for c in (self.instance_class(v, scope) for v in values)}
                return next(iter(classes.values())) if len(classes) == 1 else None
            if scope is not None and name in scope.params:
                return self._parameter_class(scope, name)
            if scope is None:
                return None
            scope = scope.parent

    # ---- call-site binding -------------------------------------------------------------
    def _parameter_class(self, fn: "FunctionInfo", name: str) -> Optional["ClassInfo"]:
        """The class every caller of `fn` passes for parameter `name` (or the class of this
        file the parameter is annotated with), or None."""
        declared = self._annotated_class(fn, name)
        if declared is not None:
            return declared
        found = None
        callers = self._direct_callers().get(id(fn), [])
        if not callers:
            return None
        for call, owner in callers:
            arg = argument_for(fn, call, name)
            if arg is None:
                return None
            cls = self.instance_class(arg, owner)
            if cls is None or (found is not None and cls is not found):
                return None
            found = cls
        return found

    def callers_of(self, fn: "FunctionInfo") -> List[Tuple[cst.Call, Optional["FunctionInfo"]]]:
        """Calls in this file that run `fn` (a module-level or nested function by its name;
        a method through `self`, an object of its class or, for forward/call, the object itself)."""
        if self._callers is None:
            self._direct_callers()
            callers: Dict[int, List[Tuple[cst.Call, Optional["FunctionInfo"]]]] = {}
            for call, owner in self.model.calls:
                target = self.called_function(call, owner)
                if target is not None:
                    callers.setdefault(id(target), []).append((call, owner))
            self._callers = callers
        return self._callers.get(id(fn), [])

    def _direct_callers(self) -> Dict[int, List[Tuple[cst.Call, Optional["FunctionInfo"]]]]:
        """Calls by a function's own name (`train_step(G, D, batch)`), `self.m(...)` and
        `super().m(...)`: what binds a parameter at its call sites (objects are not needed to
        find these, so binding a parameter never waits on itself)."""
        if self._direct is None:
            self._direct = {}
            for call, owner in self.model.calls:
                func = call.func
                target = None
                if type(func) is cst.Name:
                    target = self._lookup(owner, func.value)
                    if target is None:
                        target = self._transformed(self._single_value(owner, func.value), owner)
                elif type(func) is cst.Call:
                    target = self._transformed(func, owner)
                elif type(func) is cst.Attribute and (dotted(func.value) == "self" or
                                                      (type(func.value) is cst.Call and dotted(func.value.func) == "super")):
                    target = self.called_function(call, owner)
                if target is not None:
                    self._direct.setdefault(id(target), []).append((call, owner))
        return self._direct

    def _transformed(self, expr, scope, depth: int = 0) -> Optional["FunctionInfo"]:
        """The function of this file inside an argument-preserving transform (`jax.grad(f)`,
        `jax.jit(jax.value_and_grad(f))`, a name bound to one): calling the result passes its
        positional arguments to `f`, so the call binds `f`'s parameters."""
        if type(expr) is cst.Name and depth < 3:
            return self._transformed(self._single_value(scope, expr.value), scope, depth + 1)
        if type(expr) is not cst.Call or self.model.callee(expr) not in ARGUMENT_PRESERVING or depth > 3:
            return None
        inner = positional_argument(expr, 0)
        if type(inner) is cst.Lambda:  # `nnx.value_and_grad(lambda m: m.loss(x))(model)`
            return self.model.function_of.get(inner)
        if type(inner) is cst.Name:
            found = self._lookup(scope, inner.value)
            return found if found is not None else self._transformed(inner, scope, depth + 1)
        return self._transformed(inner, scope, depth + 1)

    def _single_value(self, scope, name: str) -> Optional[cst.BaseExpression]:
        """The one value `name` is assigned where it is visible from `scope` (None: none or several)."""
        while True:
            values = self._values.get((id(scope) if scope else 0, name))
            if values:
                return values[0] if len(values) == 1 else None
            if scope is None or name in scope.params:
                return None
            scope = scope.parent

    def called_function(self, call: cst.Call, scope: Optional["FunctionInfo"]) -> Optional["FunctionInfo"]:
        """The function of this file a call runs, through names, `self`, `super()` and objects."""
        model = self.model
        func = call.func
        if type(func) is cst.Name:
            target = self._lookup(scope, func.value)
            if target is not None:
                return target
            cls = self._name_class(func.value, scope) if func.value not in model.classes else None
            return _call_method(model, cls)
        if type(func) is cst.Attribute:
            receiver = func.value
            if type(receiver) is cst.Call and dotted(receiver.func) == "super":
                cls = _method_class(scope)
                if cls is None:
                    return None
                for base in list(model.class_chain(cls))[1:]:
                    if func.attr.value in base.methods:
                        return base.methods[func.attr.value]
                return None
            cls = self.instance_class(receiver, scope)
            if cls is not None:
                found = model.find_method(cls, func.attr.value)
                if found is not None:
                    return found
            # `self.act(h)` where `self.act = Activation()`: the object's forward / call
            return _call_method(model, self.instance_class(func, scope))
        return None

    # ---- optimizers --------------------------------------------------------------------
    def value_of(self, expr: cst.BaseExpression, scope) -> Optional[Tuple[cst.BaseExpression, Optional["FunctionInfo"]]]:
        """The one value a name holds where it is read (its single assignment in the scope
        chain, or what every caller passes for a parameter), with the scope it is evaluated in."""
        if type(expr) is not cst.Name:
            return expr, scope
        name = expr.value
        while True:
            values = self._values.get((id(scope) if scope else 0, name))
            if values:
                return (values[0], scope) if len(values) == 1 and values[0] is not None else None
            if scope is not None and name in scope.params:
                callers = self._direct_callers().get(id(scope), [])
                bound = {id(a): (a, o) for a, o in ((argument_for(scope, c, name), o) for c, o in callers)}
                if len(callers) >= 1 and len(bound) == 1:
                    arg, owner = next(iter(bound.values()))
                    return self.value_of(arg, owner) if arg is not None else None
                return None
            if scope is None:
                return None
            scope = scope.parent

    def trained_classes(self, fn: Optional["FunctionInfo"], after: Optional[cst.CSTNode] = None) -> Optional[List["ClassInfo"]]:
        """The classes of this file whose parameters the optimizers stepped in `fn` train
        (`opt_g = Adam(G.parameters())`, `opt_g.step()`, `G = Generator()`); None when any
        stepped optimizer or its parameters cannot be resolved to such a class. With `after`
        (a backward call), only the steps between it and the next backward: a loop that steps
        two networks in turn steps one per backward."""
        model = self.model
        calls = fn.calls if fn is not None else [c for c, o in model.calls if o is None]
        if after is not None:
            order = model.flow.order
            start = order(after)
            later = sorted((c for c in calls if order(c) > start), key=order)
            calls = []
            for c in later:
                if type(c.func) is cst.Attribute and c.func.attr.value in ("backward", "manual_backward"):
                    break
                calls.append(c)
        out: List["ClassInfo"] = []
        stepped = False
        for call in calls:
            func = call.func
            if type(func) is not cst.Attribute or func.attr.value != "step":
                continue
            stepped = True
            found = self.value_of(func.value, fn)
            if found is None or type(found[0]) is not cst.Call:
                return None
            ctor, scope = found
            if not (model.callee(ctor) or "").startswith("torch.optim."):
                return None
            params = next((a.value for a in ctor.args if a.keyword is None or a.keyword.value == "params"), None)
            if not (type(params) is cst.Call and type(params.func) is cst.Attribute and params.func.attr.value == "parameters"):
                return None
            cls = self.instance_class(params.func.value, scope)
            if cls is None:
                return None
            out.append(cls)
        return out if stepped else None

    def factory_function(self, call: cst.Call, scope: Optional["FunctionInfo"]) -> Optional["FunctionInfo"]:
        """For a call by a name that no `def` binds: the nested function a factory of this file
        returned into that name (`predict = make_predict(cfg)`; `init_fn, predict = frozen(layer)`)."""
        if type(call.func) is not cst.Name or self._lookup(scope, call.func.value) is not None:
            return None
        return self._factory_product(scope, call.func.value)

    def _factory_product(self, scope, name: str) -> Optional["FunctionInfo"]:
        """`predict = make_predict(cfg)`, `init_fn, apply_fn = frozen(layer)`: the nested function
        of this file that the factory returns (at the unpacked position), when the name is bound
        once and every `return` of the factory gives the same function."""
        while True:
            key = (id(scope) if scope else 0, name)
            values = self._values.get(key)
            if values:
                break
            if scope is None or name in scope.params:
                return None
            scope = scope.parent
        if len(values) != 1:
            return None
        call, index = values[0], None
        if call is None:
            spots = self._unpacked.get(key) or []
            if len(spots) != 1:
                return None
            call, index = spots[0]
        if type(call) is not cst.Call or ("factory", key) in self._busy:
            return None
        self._busy.add(("factory", key))
        try:
            factory = self.called_function(call, scope)
        finally:
            self._busy.discard(("factory", key))
        return self._returned_function(factory, index, 0)

    def _returned_function(self, factory: Optional["FunctionInfo"], index: Optional[int], depth: int) -> Optional["FunctionInfo"]:
        """The nested function every `return` of `factory` gives (element `index` of a returned
        tuple), through `return other_factory(...)` a few levels deep."""
        if depth > 3 or factory is None or type(factory.node) is not cst.FunctionDef or not factory.returns:
            return None
        found = None
        for ret in factory.returns:
            value = getattr(ret, "value", None)
            if type(value) is cst.Call:  # `return frozen(stax.serial(...))`
                fn = self._returned_function(self.called_function(value, factory), index, depth + 1)
            else:
                if index is not None:
                    if type(value) is not cst.Tuple or len(value.elements) <= index or any(
                            type(e) is cst.StarredElement for e in value.elements):
                        return None
                    value = value.elements[index].value
                fn = self._functions.get((id(factory), value.value)) if type(value) is cst.Name else None
            if fn is None or (found is not None and fn is not found):
                return None
            found = fn
        return found

    def _lookup(self, scope, name: str) -> Optional["FunctionInfo"]:
        """A function defined in this file visible as `name` from `scope` (nested first)."""
        while scope is not None:
            found = self._functions.get((id(scope), name))
            if found is not None:
                return found
            if name in scope.bindings:
                return None
            scope = scope.parent
        return self._functions.get((id(None), name))


def _pairs(target: cst.BaseExpression, value: cst.BaseExpression):
    """(name, value) bound by `target = value`, element-wise for `a, b = A(), B()`; a name in
    an unpacking of anything else is bound to an unknown value (None)."""
    if type(target) is cst.Name:
        return [(target.value, value)]
    if type(target) in (cst.Tuple, cst.List):
        values = value.elements if type(value) in (cst.Tuple, cst.List) else None
        if values is not None and len(values) == len(target.elements) and not any(
                type(e) is cst.StarredElement for e in (*values, *target.elements)):
            return [p for t, v in zip(target.elements, values) for p in _pairs(t.value, v.value)]
        return [(e.value.value, None) for e in target.elements if type(e.value) is cst.Name]
    return []


def _call_method(model: "FileModel", cls: Optional["ClassInfo"]) -> Optional["FunctionInfo"]:
    if cls is None:
        return None
    for name in CALL_METHODS:
        found = model.find_method(cls, name)
        if found is not None:
            return found
    return None


def _method_class(scope: Optional["FunctionInfo"]) -> Optional["ClassInfo"]:
    while scope is not None and scope.parent is not None:
        scope = scope.parent
    return scope.cls if scope is not None else None
