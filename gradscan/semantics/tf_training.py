"""What a TensorFlow/Keras training step trains: the objects whose weight lists a
`tape.gradient(loss, sources)` differentiates, and whether a given network is one of them.

The TensorFlow look-alike exemptions (a target network's `predict`, a discriminator's input
stopped, a teacher's output cut) rest on one fact: the network behind the cut is not what the
step differentiates. A name says so only as a hint; this module asks the code. Answers are
True, False, or None (the file does not show it: the rule's name hint then decides).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Set

import libcst as cst

from gradscan.semantics.arguments import argument_for, find_argument
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel, FunctionInfo

# The attributes of a Keras layer/model or tf.Module that list its weights.
WEIGHT_LISTS = {"trainable_variables", "trainable_weights", "variables", "weights"}
# Methods that overwrite a network's weights from elsewhere: a copy, a checkpoint, an average.
SYNC_METHODS = {"set_weights", "load_weights"}


def gradient_sources(call: cst.Call) -> Optional[cst.BaseExpression]:
    """The `sources` argument of `tape.gradient(target, sources)`."""
    if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in ("gradient", "jacobian"):
        return None
    return find_argument(call, 1, "sources")


def differentiated_owners(model: "FileModel", call: cst.Call) -> Optional[Set[str]]:
    """The objects (dotted text: `model`, `self.actor`) whose weight lists are all that
    `tape.gradient(loss, sources)` differentiates; None when any part of `sources` is not such
    a list (a list of raw variables, a parameter, a helper's result)."""
    sources = gradient_sources(call)
    if sources is None:
        return None
    return _owners(model, sources, model.enclosing_function(call), 3)


def _owners(model: "FileModel", expr: cst.BaseExpression, fn: Optional["FunctionInfo"], depth: int) -> Optional[Set[str]]:
    if isinstance(expr, cst.Attribute) and expr.attr.value in WEIGHT_LISTS:
        text = dotted(expr.value)
        return {text} if text else None
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        left = _owners(model, expr.left, fn, depth)
        right = _owners(model, expr.right, fn, depth)
        return None if left is None or right is None else left | right
    if isinstance(expr, (cst.List, cst.Tuple)) and expr.elements:
        out: Set[str] = set()
        for element in expr.elements:
            found = _owners(model, element.value, fn, depth)
            if found is None:
                return None
            out |= found
        return out
    if isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
        return _owners(model, expr.for_in.iter, fn, depth)
    if isinstance(expr, cst.Call) and dotted(expr.func) in ("list", "tuple") and len(expr.args) == 1:
        return _owners(model, expr.args[0].value, fn, depth)
    if isinstance(expr, cst.Name) and depth > 0:
        bindings = [b for b in model.get(Definitions).in_scope(fn, expr.value) if b.kind == "name"]
        if not bindings or any(b.value is None for b in bindings):
            return None
        out = set()
        for b in bindings:
            found = _owners(model, b.value, fn, depth - 1)
            if found is None:
                return None
            out |= found
        return out
    return None


class Bindings:
    """Per file (`model.get(Bindings)`): the values each dotted target (`net`, `self.net`) is
    assigned anywhere, and the plain aliases (`target = model`)."""

    def __init__(self, model: "FileModel") -> None:
        self.values: Dict[str, List[cst.BaseExpression]] = {}
        self.aliases: Dict[str, Set[str]] = {}
        for node, _owner in model.assignments:
            if not isinstance(node, cst.Assign):
                continue
            value = dotted(node.value) if isinstance(node.value, (cst.Name, cst.Attribute)) else None
            for t in node.targets:
                target = dotted(t.target)
                if target is None:
                    continue
                self.values.setdefault(target, []).append(node.value)
                if value is not None:
                    self.aliases.setdefault(target, set()).add(value)
                    self.aliases.setdefault(value, set()).add(target)


def _aliases(model: "FileModel", text: str, fn: Optional["FunctionInfo"]) -> Set[str]:
    """`text` and the plain names it is bound to or from (`target = model`, `self.t = self.m`):
    one object under several names."""
    return {text} | model.get(Bindings).aliases.get(text, set())


def _bound_values(model: "FileModel", text: str) -> List[cst.BaseExpression]:
    """Every value `text` (a name or `self.attr`) is assigned anywhere in the file."""
    return model.get(Bindings).values.get(text, [])


def _built_from(model: "FileModel", text: str, name: str, depth: int, seen: Set[str]) -> bool:
    """A value bound to `text` mentions `name`, directly or through the names it is built from
    (`model = keras.Model(inp, out)`, `out = head(net(inp))`: `model` is built from `net`)."""
    if depth <= 0 or text in seen:
        return False
    seen.add(text)
    for value in _bound_values(model, text):
        for n in [value, *descendants(value)]:
            if isinstance(n, cst.Name):
                if n.value == name or _built_from(model, n.value, name, depth - 1, seen):
                    return True
    return False


def _is_parameter(model: "FileModel", text: str, fn: Optional["FunctionInfo"]) -> bool:
    root = text.split(".", 1)[0]
    f = fn
    while f is not None:
        if root in f.params and root not in ("self", "cls"):
            return True
        f = f.parent
    return False


def network_trained(model: "FileModel", gradient_call: cst.Call, network: str, fn: Optional["FunctionInfo"]) -> Optional[bool]:
    """Whether `tape.gradient(...)` differentiates the weights of `network` (dotted text of the
    object whose call or `predict` computed a value): True when it is one of the objects whose
    weight lists are the sources (also under another name: `target = model`), or part of one
    (`full = Sequential([network, head])`); False when the sources are the weight lists of
    other objects of this file; None when that cannot be told (sources not resolved, a
    parameter whose callers decide, or `self`, whose weights hold every sub-layer)."""
    owners = differentiated_owners(model, gradient_call)
    if not owners or "self" in owners:
        return None
    names = _aliases(model, network, fn)
    for owner in owners:
        if names & _aliases(model, owner, fn):
            return True
    last = network.rsplit(".", 1)[-1]
    for owner in owners:
        if _built_from(model, owner, last, 3, set()):
            return True  # built from the network: its weights are in the owner's list
        if _built_from(model, network, owner.rsplit(".", 1)[-1], 3, set()):
            return True  # the network is built from the owner (`combined = Model(z, d(g(z)))`): it runs its weights
    if _is_parameter(model, network, fn) or any(_is_parameter(model, o, fn) for o in owners):
        return None
    values = _bound_values(model, network)
    if not values:
        return None  # bound where this file does not show (a loop target, a `with` item)
    for value in values:
        owner = model.enclosing_function(value)
        if isinstance(value, cst.Name) and owner is not None and value.value in owner.params:
            # `self.model = model` in `__init__`: the object the constructor calls pass
            passed = _constructor_arguments(model, owner, value.value) or set()
            if any(_aliases(model, p, fn) & _aliases(model, o, fn) for p in passed for o in owners):
                return True
    return False


def _constructor_arguments(model: "FileModel", init: "FunctionInfo", param: str) -> Optional[Set[str]]:
    """What the file's calls of `init`'s class pass for `param` (dotted texts: `Scorer(net)`
    passes `net` for `model`); None when `init` is not a constructor of a class of this file,
    no call is seen, or one passes something that is not a plain name."""
    if init.name != "__init__" or init.cls is None:
        return None
    out: Set[str] = set()
    for call, _owner in model.calls:
        if dotted(call.func) != init.cls.name:
            continue
        arg = argument_for(init, call, param)
        text = dotted(arg) if arg is not None else None
        if text is None:
            return None
        out.add(text)
    return out or None


def synced_or_frozen(model: "FileModel", network: str) -> bool:
    """`network` gets its weights from elsewhere or is frozen: `network.set_weights(...)`,
    `network.load_weights(...)`, `network.trainable = False`, or `.assign(...)` of the
    variables of its weight list (an EMA update, a Polyak average)."""
    root = network.split(".", 1)[0]
    for call, owner in model.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in SYNC_METHODS and dotted(func.value) == network:
            if root != "self" and owner is not None and root in owner.params:
                continue  # another function's parameter of the same name (a checkpoint-loading helper)
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in ("assign", "assign_add", "assign_sub"):
            loop = next((a for a in model.ancestors(call) if isinstance(a, (cst.For, cst.ListComp, cst.GeneratorExp))), None)
            iterable = loop.iter if isinstance(loop, cst.For) else (loop.for_in.iter if loop is not None else None)
            if iterable is not None and any(
                    isinstance(n, cst.Attribute) and n.attr.value in WEIGHT_LISTS and dotted(n.value) == network
                    for n in descendants(iterable)):
                return True
    for node, _fn in model.assignments:
        if isinstance(node, cst.Assign) and dotted(node.value) == "False":
            for t in node.targets:
                if isinstance(t.target, cst.Attribute) and t.target.attr.value == "trainable" and dotted(t.target.value) == network:
                    return True
    return False



def instances(model: "FileModel", cls, depth: int = 3) -> Set[str]:
    """Dotted names bound to an instance of `cls` (`slow = Slow()`, `self.vq = Quantizer()`),
    and, for a class of this file that holds one as a sub-layer, the instances of that class:
    a sub-layer trains when the model holding it does."""
    out: Set[str] = set()
    if depth <= 0:
        return out
    for node, _owner in model.assignments:
        if not isinstance(node, cst.Assign) or not isinstance(node.value, cst.Call):
            continue
        func = dotted(node.value.func)
        if func is None or func.rsplit(".", 1)[-1] != cls.name or model.classes.get(func.rsplit(".", 1)[-1]) is not cls:
            continue
        for t in node.targets:
            text = dotted(t.target)
            if text and not text.startswith("self."):
                out.add(text)
    for holder in model.classes.values():
        if holder is cls:
            continue
        for _attr, value, _node, _method in holder.self_assigns:
            if isinstance(value, cst.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == cls.name:
                out |= instances(model, holder, depth - 1)
                break
    return out


def class_trained(model: "FileModel", cls) -> Optional[bool]:
    """Whether a training step of this file differentiates the weights of an instance of
    `cls` (directly or as a sub-layer of a model it trains): True; False when the file has
    instances and every `tape.gradient` resolves to other objects, or every instance is
    synced or frozen and none is differentiated; None when nothing shows it."""
    names = instances(model, cls)
    if not names:
        return None
    verdicts = []
    for call, fn in model.calls:
        if gradient_sources(call) is None:
            continue
        for name in names:
            verdicts.append(network_trained(model, call, name, fn))
        if any(v is True for v in verdicts):
            return True
    for call, _fn in model.calls:
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("fit", "train_on_batch") \
                and dotted(call.func.value) in names:
            return True
    if all(synced_or_frozen(model, n) for n in names):
        return False
    if verdicts and all(v is False for v in verdicts):
        return False
    return None

def networks_behind(model: "FileModel", expr: cst.BaseExpression, fn: Optional["FunctionInfo"], depth: int = 3) -> Optional[Set[str]]:
    """The networks (dotted text of the called object: `teacher`, `self.target`) whose outputs
    are all the gradient `expr` carries, by TensorFlow's facts: followed through names (their
    reaching bindings), operators and library calls, and into a function of the file it calls
    (its returns, its parameters bound to what the call passes: `probs(teacher, x)` running
    `net(x)` calls `teacher`). None when any carrying part is something else (a variable read, a
    watched tensor, an unbound parameter, `self(x)`, a call the file does not show): the answer
    must hold for everything the value carries. An empty set: it carries nothing."""
    facts = model.sources.tensorflow
    found: Set[str] = set()
    Bound = Dict[str, tuple]  # parameter -> (argument, the caller's scope, the caller's bindings)

    def network_texts(func: cst.BaseExpression, scope, bound: Bound, level: int = 2) -> Optional[Set[str]]:
        text = dotted(func)
        if text is None or text in ("self", "super"):
            return None
        root, _, rest = text.partition(".")
        tail = "." + rest if rest else ""
        if root in bound:
            arg, outer, outer_bound = bound[root]
            base = network_texts(arg, outer, outer_bound, level)
            return None if base is None else {b + tail for b in base}
        if not _is_parameter(model, text, scope):
            return {text}
        # a helper's parameter: the networks its callers pass (every caller must say)
        if level <= 0 or scope is None or root not in scope.params:
            return None
        out: Set[str] = set()
        callers = model.objects.callers_of(scope)[:8]
        for call, owner in callers:
            arg = argument_for(scope, call, root)
            base = network_texts(arg, owner, {}, level - 1) if arg is not None else None
            if base is None:
                return None
            out |= {b + tail for b in base}
        return out or None

    def visit(node: cst.CSTNode, scope, bound: Bound, level: int) -> bool:
        if not bound and isinstance(node, cst.BaseExpression) and not facts.carries(node, scope):
            return True
        if isinstance(node, cst.Call):
            target = model.objects.called_function(node, scope)
            # a network call by TensorFlow's facts, or an object the walk knows holds weights
            # (`teacher = keras.Sequential(...)`): a call that carries though no argument does
            network = facts._model_call(node, scope) or (
                target is None and not bound and facts.callee(node) is None and dotted(node.func) is not None
                and facts.carries(node, scope) and not any(facts.carries(a.value, scope) for a in node.args))
            if network:
                texts = network_texts(node.func, scope, bound)
                if texts is None:
                    return False
                found.update(texts)
                return all(visit(a.value, scope, bound, level) for a in node.args)  # its input may carry too
            if target is not None and facts.callee(node) is None:
                if level <= 0 or not target.returns:
                    return False
                inner: Bound = {}
                for param in target.params:
                    arg = argument_for(target, node, param)
                    if arg is not None:
                        inner[param] = (arg, scope, bound)
                return all(isinstance(r, cst.Return) and r.value is not None and visit(r.value, target, inner, level - 1)
                           for r in target.returns)
            if isinstance(node.func, cst.Name) and node.func.value in bound:
                return False  # a function passed in: unknown
            children = [a.value for a in node.args]
        elif isinstance(node, cst.Name):
            if node.value in bound:
                arg, outer, outer_bound = bound[node.value]
                return visit(arg, outer, outer_bound, level)
            bindings, kind = model.get(Definitions).reaching(node, scope)
            if kind == "param" or not bindings or level <= 0:
                return not facts.carries(node, scope)
            return all(b.kind == "name" and b.value is not None and visit(b.value, scope, bound, level - 1) for b in bindings)
        elif isinstance(node, cst.Attribute):
            return not bound and not facts.carries(node, scope)
        else:
            children = [c.value if isinstance(c, cst.Element) else c for c in node.children]
            children = [c for c in children if isinstance(c, cst.BaseExpression)]
        return all(visit(c, scope, bound, level) for c in children)

    return found if visit(expr, fn, {}, depth) else None

__all__ = [
    "networks_behind",
    "WEIGHT_LISTS", "gradient_sources", "differentiated_owners", "network_trained", "synced_or_frozen", "instances",
    "class_trained",
]
