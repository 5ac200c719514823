"""Value flow inside a function: does a value reach what a differentiable function returns,
or the value that `.backward()` / `tape.gradient` is called on?

The walk climbs from a node through the expressions that carry its value (operators, calls
taking it as an argument, containers, attribute and subscript reads), across assignments to the
later uses of the assigned names, and from a helper's `return` to the places that call it.
It stops at sinks that carry no gradient intent: logging and metrics, Python numbers
(`.item()`, `.tolist()`, `.cpu()`), shapes and dtypes, comparisons, indices, writes to
`self` state and to names that say they are logs or caches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Set, Tuple

import libcst as cst

from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import names as api_names
from gradscan.frameworks import pyro as pyro_api
from gradscan.frameworks import tensorflow as tf_api
from gradscan.frameworks import torch as torch_api
from gradscan.semantics.budget import tick
from gradscan.semantics.contexts import called_function
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.summaries import DATA, GRAPH, Summaries
from gradscan.semantics.walk import descendants, target_names

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel, FunctionInfo

# Reading these from a tensor gives metadata or a Python value, not a differentiable tensor.
NON_CARRYING_ATTRS = api_names(torch_api.NON_CARRYING_ATTRS)
# `.cpu()` is differentiable (not in the framework's table) but the flow stops there by intent:
# a value moved to the CPU leaves the (GPU) computation for logging or NumPy.
NON_CARRYING_METHODS = api_names(torch_api.NON_CARRYING_METHODS) | {"cpu"}
NON_CARRYING_BUILTINS = {
    "print", "len", "isinstance", "type", "str", "repr", "format", "id", "hash", "bool", "int",
    "float", "round", "range", "hasattr", "getattr", "callable", "issubclass", "setattr", "open",
}
# Calls whose result carries no gradient back to their arguments (the frameworks' tables).
NON_CARRYING_FUNCTIONS = api_names(torch_api.NON_CARRYING_FUNCTIONS, tf_api.NON_CARRYING_FUNCTIONS,
                                   jax_api.STOP_GRADIENT, jax_api.ZERO_GRAD_FUNCTIONS)
# A conversion to NumPy/Python followed by a re-wrap into a tensor (`torch.from_numpy(arr)`,
# `tf.constant(arr)`) is a cut the value survives as data: the walk follows a converted value
# (through NumPy calls, arithmetic and assignments) only until it is wrapped again; a converted
# value that reaches nothing but Python code stops as before.
CONVERSION_METHODS = api_names(torch_api.CONVERSION_METHODS, tf_api.CONVERSION_METHODS, jax_api.CONVERSION_METHODS)
CONVERSION_BUILTINS = api_names(torch_api.CONVERSION_BUILTINS)
REWRAP_FUNCTIONS = api_names(torch_api.REWRAP_FUNCTIONS, tf_api.REWRAP_FUNCTIONS, jax_api.REWRAP_FUNCTIONS)
REWRAP_METHODS = api_names(torch_api.REWRAP_METHODS)
PYRO_SAMPLE_SITES = api_names(pyro_api.SAMPLE_SITES)
VALUES_AND_INDICES = {a.name for a in torch_api.VALUES_AND_INDICES if "." in a.name}
METHOD_VALUES_AND_INDICES = {a.name for a in torch_api.VALUES_AND_INDICES if "." not in a.name}
# On the way to a conversion these keep the value (`.detach().cpu().numpy()`).
_BEFORE_CONVERSION = api_names(torch_api.BEFORE_CONVERSION)
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft", "put"}
BACKWARD_CALLS = {"torch.autograd.backward", "torch.autograd.grad"}
# Word tokens (split on `_` and case changes) that mark a name as a log, metric or cache.
LOG_TOKENS = {
    "log", "logs", "logging", "logger", "metric", "metrics", "stat", "stats", "info", "summary",
    "summaries", "history", "debug", "record", "records", "vis", "viz", "plot", "display", "monitor",
    "wandb", "writer", "tensorboard", "tb", "mlflow", "pbar", "tqdm", "progress", "cache", "cached",
    "stash", "report", "reporting", "print", "warn", "warnings", "diagnostics", "diag",
}
LOG_METHODS = {
    "log", "log_dict", "log_metrics", "info", "debug", "warning", "warn", "error", "add_scalar",
    "add_scalars", "add_histogram", "add_image", "add_images", "set_postfix", "set_description",
    "write", "log_image",
}


def is_log_name(name: str) -> bool:
    return bool(tokens(name) & LOG_TOKENS)


@dataclass
class Trace:
    """How a value reached the output: the expression nodes it passed through, in order."""

    path: List[cst.CSTNode] = field(default_factory=list)
    sink: str = "return"  # return, loss
    root: Optional["FunctionInfo"] = None  # for sink "return": the root whose return value it reached
    # The call that turned the value into NumPy/Python data (`.numpy()`, `float(t)`) on the way,
    # when it was wrapped into a tensor again later (`torch.from_numpy(arr)`): None otherwise.
    converted: Optional[cst.CSTNode] = None


class Entry:
    """A barrier or target that is decided by how the value enters a node: `Entry(test)` is
    asked `test(entered, n)` for each node `n` of a path, `entered` being the path's node just
    before `n` (None at the start of a path segment). A score call `Normal(z, 1).log_prob(x)`
    scores `x`; a sample that enters it through `z` is a pathwise parameter, not the point."""

    __slots__ = ("test",)

    def __init__(self, test: Callable[[Optional[cst.CSTNode], cst.CSTNode], bool]) -> None:
        self.test = test


def _hits(check, path: List[cst.CSTNode]) -> bool:
    if isinstance(check, Entry):
        return any(check.test(path[i - 1] if i else None, n) for i, n in enumerate(path))
    return any(check(n) for n in path)


class Flow:
    # Bounded cost: one question follows at most this many statements, a file at most
    # FILE_BUDGET; past either the answer is None (silent) and `incomplete` counts it, which
    # the engine reports as GS003 (off by default).
    QUERY_BUDGET = 20_000
    FILE_BUDGET = 2_000_000

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self.steps = 0
        self.incomplete = 0  # questions cut short by a budget
        self._query_limit = self.QUERY_BUDGET
        self._order: Optional[Dict[cst.CSTNode, int]] = None
        self._uses: Dict[int, Tuple[Dict[str, List[cst.Name]], Dict[str, List[int]]]] = {}
        self._store_nodes: Dict[int, Dict[str, List[Tuple[int, cst.CSTNode]]]] = {}
        self._dropped: Dict[Tuple[int, int], bool] = {}  # (id(forward), position) -> dropped by every training caller

    # ---- public ------------------------------------------------------------------------
    def reaches_output(self, node: cst.CSTNode, max_calls: int = 3, barrier: Optional[Callable[[cst.CSTNode], bool]] = None,
                       accept_return: Optional[Callable[["FunctionInfo"], bool]] = None, module_level: bool = False,
                       past_roots: bool = False) -> Optional[Trace]:
        """A trace if the value of `node` reaches the return value of a differentiable root,
        or a value that is backpropagated; None if it does not (or cannot be decided).
        `barrier(n)`, when given, abandons every path through a node `n` it is true for (for
        example a `log_prob(...)` call: a sample that reaches the loss only as a score).
        `accept_return(fn)`, when given, decides whether returning from the root `fn` counts (a
        Keras `train_step` returns metrics, not an output). `module_level=True` also follows
        assignments in module-level code (scripts and notebooks with a top-level tape block).
        `past_roots=True` follows what a root returns into the file's callers of that root, element
        by element (`actions, logp = policy(obs)` in a training function): the trace then ends
        where the caller takes it, and a root whose callers all drop the value is no output;
        a root with no caller in the file ends the walk as before."""
        fn = self.model.enclosing_function(node)
        return self._bounded(lambda: self._reach(node, fn, max_calls, set(), barrier, None, accept_return, module_level,
                                                 past_roots=past_roots))

    def flows_into(self, node: cst.CSTNode, predicate: Callable[[cst.CSTNode], bool], max_calls: int = 0, module_level: bool = False,
                   past_roots: bool = False) -> Optional[Trace]:
        """A trace (sink "target") if the value of `node` passes through a node `predicate` is
        true for, by the same walk as `reaches_output`; None otherwise."""
        fn = self.model.enclosing_function(node)
        return self._bounded(lambda: self._reach(node, fn, max_calls, set(), None, predicate, None, module_level,
                                                 past_roots=past_roots))

    def element_reaches(self, fn: "FunctionInfo", position: int, call: Optional[cst.Call] = None) -> Optional[bool]:
        """Does element `position` of what `fn` returns reach an output or a loss through any
        of `fn`'s callers in the file (`a, b = fn(x)` follows `b` only), or through `call` only
        when given? None when no caller is known or the walk was cut short."""
        callers = [(c, o) for c, o in self._callers(fn) if call is None or c is call]
        if not callers:
            return None
        cut_short = self.incomplete
        for call, caller in callers:
            found = self._bounded(lambda c=call, o=caller: self._reach(c, o, 1, set(), element=position, module_level=True))
            if found is not None:
                return True
        return None if self.incomplete != cut_short else False

    def callers(self, fn: "FunctionInfo") -> List[Tuple[cst.Call, Optional["FunctionInfo"]]]:
        """The calls in the file that run `fn` (by name, through `self`, through objects, `map`),
        each with the function it is in (None: module level)."""
        return list(self._callers(fn))

    def _bounded(self, question: Callable[[], Optional[Trace]]) -> Optional[Trace]:
        if self.steps >= self.FILE_BUDGET:
            self.incomplete += 1
            return None
        self._query_limit = min(self.steps + self.QUERY_BUDGET, self.FILE_BUDGET)
        try:
            return question()
        except _OverBudget:
            self.incomplete += 1
            return None

    def climb(self, node: cst.CSTNode) -> Tuple[str, List[cst.CSTNode], List[str]]:
        """Follow the value of `node` up to its statement: (how it ends, path, names it taints)."""
        return self._climb(node)[:3]

    # ---- the walk ----------------------------------------------------------------------
    def _reach(self, node, fn, calls_left: int, seen: Set[Tuple[int, Optional[int]]], barrier=None, target=None, accept_return=None, module_level: bool = False, element: Optional[int] = None, past_roots: bool = False, inherited=False) -> Optional[Trace]:
        # `element`: the value of `node` is a tuple of which only this position carries the value
        # (a helper's `return z, y` reached through its element `z`).
        # A question asked about a conversion itself (`t.tolist()`, `float(t)`: GS205's) starts
        # as data that counts wherever it arrives: through `math`/NumPy calls, and into tensor
        # arithmetic without a re-wrap too.
        # `inherited`: the conversion state of a value followed out of a helper's return into
        # its caller's call (None: still a tensor); the walk that climbed the helper's body
        # knows it, not the helper's summary (`float(t)` in a loop, re-wrapped before returning).
        start_conv = None
        if inherited is not False:
            start_conv = inherited
        elif is_conversion(node):
            start_conv = _Converted(node)
            start_conv.rewrapped = True
        elif type(node) is cst.Call and self._rewraps_in_file() and self.model.get(Summaries).converted_argument(node) is not None:
            # `to_numpy(h)`: a helper's NumPy copy, which counts only once wrapped again
            start_conv = _Converted(node)
        todo: List[Tuple[cst.CSTNode, List[cst.CSTNode], Optional[int], Optional[cst.CSTNode]]] = [(node, [], element, start_conv)]
        while todo:
            tick()
            start, prefix, elem, conv = todo.pop()
            self.steps += 1
            if self.steps > self._query_limit:
                raise _OverBudget()
            # Keyed by position too: a helper's `return h, h` reaches its caller's call once
            # per element, and each element may be unpacked into a different name.
            key = (id(start), elem, conv is not None and conv.rewrapped)
            if key in seen:
                continue
            seen.add(key)
            end, path, names, conv = self._climb(start, elem, conv)
            if barrier is not None and _hits(barrier, path):
                continue
            if target is not None and _hits(target, path):
                return Trace(prefix + path, "target")
            path = prefix + path
            if end in ("loss", "return") and conv is not None and not conv.rewrapped:
                continue  # Python/NumPy data that never became a tensor again: not followed
            if end == "loss":
                if target is None:  # flows_into: only the target ends the walk
                    return Trace(path, "loss", converted=conv.node if conv is not None else None)
                continue
            if end == "return":
                if fn is None:
                    continue
                if self._is_root(fn):
                    if past_roots and calls_left > 0:
                        callers = list(self._callers(fn))
                        if callers:
                            position = _returned_position(path)
                            for call, caller in callers:
                                found = self._reach(call, caller, calls_left - 1, seen, barrier, target, accept_return,
                                                    module_level or caller is None, position, past_roots)
                                if found is not None:
                                    return Trace(path + found.path, found.sink, found.root,
                                                 found.converted or (conv.node if conv is not None else None))
                            continue  # the file's callers of this root all drop the value
                    sink = _callback_return(fn, path)
                    if sink is None:
                        continue  # a training_step's logging entry: Lightning does not backpropagate it
                    position = _returned_position(path)
                    if position is not None and self._element_dropped(fn, position):
                        continue  # every training caller drops this element of the forward's return
                    if target is None and (accept_return is None or accept_return(fn)):
                        return Trace(path, sink, fn, converted=conv.node if conv is not None else None)
                    continue
                if calls_left > 0:
                    position = _returned_position(path)
                    for call, caller in self._callers(fn):
                        found = self._reach(call, caller, calls_left - 1, seen, barrier, target, accept_return, module_level, position,
                                            past_roots, conv)
                        if found is not None:
                            return Trace(path + found.path, found.sink, found.root,
                                         found.converted or (conv.node if conv is not None else None))
                continue
            if end == "assign" and (fn is not None or module_level or self.model.module_context is not None):
                stmt = self.model.enclosing_statement(start if not path else path[-1])
                for name in names:
                    for use in self.later_uses(fn, name, stmt):
                        todo.append((use, path, None, conv))
        return None

    def _element_dropped(self, fn: "FunctionInfo", position: int) -> bool:
        """A torch forward returns a tuple, the file (or its linked training code) shows callers
        that train it, and none of the callers' uses of element `position` reaches an output or
        a loss (`p, y, p_eval, y_eval = self.model(x)`, the loss reading `p, y` only): that
        element is not an output. False when no training caller is known: then the return is."""
        ctx = fn.context
        if ctx is None or ctx.kind != "forward":
            return False
        key = (id(fn), position)
        if key not in self._dropped:
            self._dropped[key] = False  # (a caller reached again while asking: not dropped)
            callers = [(c, o) for c, o in self._callers(fn) if self.model.context_of(c) is not None]
            self._dropped[key] = bool(callers) and all(
                self._reach(call, caller, 1, set(), element=position, module_level=True) is None
                for call, caller in callers)
        return self._dropped[key]

    def _is_root(self, fn: "FunctionInfo") -> bool:
        ctx = fn.context
        if ctx is None and isinstance(fn.node, cst.Lambda) and any(True for _ in self._maps_of(fn)):
            return False  # a lambda given to `map` returns into the map's result, not its parent's
        while ctx is None and fn.parent is not None and isinstance(fn.node, cst.Lambda):
            fn = fn.parent
            ctx = fn.context
        # A function that calls `.backward()` itself (kind "loss") returns what it reports: its
        # loss is already backpropagated, so its return value is not an output.
        return ctx is not None and ctx.kind not in ("helper", "loss") and (fn.parent is None or ctx.kind == "jax-grad")

    def _callers(self, fn: "FunctionInfo"):
        # `map(f, xs)`, `map(lambda t: ..., xs)`: the map's result holds what `f` returns.
        for call, owner in self._maps_of(fn):
            yield call, owner
        if isinstance(fn.node, cst.Lambda):
            # `act = lambda v: ...` then `act(x)` in the same function
            holder = self.model.parent(fn.node)
            if isinstance(holder, cst.Assign) and len(holder.targets) == 1 and isinstance(holder.targets[0].target, cst.Name):
                name = holder.targets[0].target.value
                for call, owner in self.model.calls:
                    if owner is fn.parent and isinstance(call.func, cst.Name) and call.func.value == name:
                        yield call, owner
            return
        module_root = self.model.module_context is not None
        for call, owner in self._calls_named(fn.name):
            if owner is None and not module_root:
                continue  # module-level code that never backpropagates: nothing there is trained
            func = call.func
            if fn.is_method:
                if owner is not None and isinstance(func, cst.Attribute) and func.attr.value == fn.name and (
                    dotted(func.value) == "self" or (isinstance(func.value, cst.Call) and dotted(func.value.func) == "super")
                ) and owner.cls is not None and self._inherits(owner, fn):
                    yield call, owner
            elif isinstance(func, cst.Name) and func.value == fn.name:
                yield call, owner
        # Through objects: `net.encode(x)`, `self.encoder.embed(x)`, `model(x)` running forward.
        for call, owner in self.model.objects.callers_of(fn):
            if (owner is not None or module_root) and not _direct_call(call, fn):
                yield call, owner

    def _inherits(self, owner: "FunctionInfo", fn: "FunctionInfo") -> bool:
        """`self.f(...)` / `super().f(...)` in `owner` can run `fn`: `owner`'s class is `fn`'s
        class or derives from it (through bases in this file). Another class's `self.forward`
        is that class's own method."""
        top = owner
        while top.parent is not None:
            top = top.parent
        cls = top.cls
        return cls is not None and any(c is fn.cls for c in self.model.class_chain(cls))

    def _maps_of(self, fn: "FunctionInfo"):
        """Calls of the builtin `map` given `fn` (a lambda, its name, or `self.<method>`)."""
        model = self.model
        maps = self.__dict__.get("_maps")
        if maps is None:
            maps = self._maps = [(c, o) for c, o in model.calls
                                 if type(c.func) is cst.Name and c.func.value == "map" and model.callee(c) is None and c.args]
        for call, owner in maps:
            first = call.args[0].value
            if first is fn.node:
                yield call, owner
            elif isinstance(first, cst.Name) and not fn.is_method and first.value == fn.name:
                yield call, owner
            elif isinstance(first, cst.Attribute) and fn.is_method and first.attr.value == fn.name and dotted(first.value) == "self":
                yield call, owner

    def _calls_named(self, name: str):
        """Calls whose callee's last name is `name` (`f(x)`, `self.f(x)`, `super().f(x)`), indexed
        once per file: scanning every call for every helper was quadratic on files with
        thousands of functions."""
        index = self.__dict__.get("_by_callee")
        if index is None:
            index = self._by_callee = {}
            for call, owner in self.model.calls:
                func = call.func
                last = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
                if last is not None:
                    index.setdefault(last, []).append((call, owner))
        return index.get(name, ())

    def _climb(self, node: cst.CSTNode, element: Optional[int] = None, conv=None):
        """(how it ends, path, names it taints, conversion state). The conversion state is
        None for a tensor, else `[conversion node, re-wrapped?]` for a value that went
        through NumPy/Python data on the way."""
        box = [conv]
        end, path, names = self._climb_tensor(node, element, box)
        return end, path, names, box[0]

    def _climb_tensor(self, node: cst.CSTNode, element: Optional[int], box: list) -> Tuple[str, List[cst.CSTNode], List[str]]:
        model = self.model
        conv = box[0]
        path: List[cst.CSTNode] = [node]
        child = node
        while True:
            tick()
            parent = model.parent(child)
            if parent is None:
                return "dropped", path, []
            t = type(parent)
            if t is cst.Attribute:
                if child is not parent.value or parent.attr.value in NON_CARRYING_ATTRS:
                    return "stop", path, []
                call = model.parent(parent)
                if isinstance(call, cst.Call) and call.func is parent:
                    method = parent.attr.value
                    if method in ("backward", "manual_backward"):
                        path.append(call)
                        return "loss", path, []
                    if method in CONVERSION_METHODS and not call.args and conv is None and self._converts_later():
                        conv = box[0] = _Converted(call)
                        path.append(call)
                        child = call
                        continue
                    if method in _BEFORE_CONVERSION and conv is None and self._conversion_ahead(call):
                        path.append(call)
                        child = call
                        continue
                    if method in REWRAP_METHODS and conv is not None:
                        return "stop", path, []  # `t.new_tensor(arr)`: the argument is the value, not `t`
                    if method in NON_CARRYING_METHODS:
                        return "stop", path, []
                    if method in MUTATORS:
                        return "stop", path, []
                    path.append(call)
                    child = call
                    continue
            elif t is cst.Arg:
                call = model.parent(parent)
                if not isinstance(call, cst.Call):
                    return "stop", path, []
                callee = model.callee(call)
                if conv is not None and (callee in REWRAP_FUNCTIONS or (
                        isinstance(call.func, cst.Attribute) and call.func.attr.value in REWRAP_METHODS)):
                    conv.rewrapped = True  # `torch.from_numpy(arr)`: a tensor again, with no graph behind it
                    path.append(call)
                    child = call
                    continue
                if conv is None and isinstance(call.func, cst.Name) and call.func.value in CONVERSION_BUILTINS \
                        and callee is None and self._converts_later():
                    conv = box[0] = _Converted(call)  # `float(t)` then `torch.tensor(...)` later
                    path.append(call)
                    child = call
                    continue
                if conv is not None and (callee or "").startswith(("math.", "numpy.", "builtins.")):
                    path.append(call)  # converted data through `math.log1p(v)`, `np.clip(v, ...)`
                    child = call
                    continue
                verdict = self._argument(call, parent)
                if verdict == "loss":
                    path.append(call)
                    return "loss", path, []
                if verdict == "convert":  # `to_numpy(h)`: a helper's NumPy copy, wrapped again later?
                    if conv is None:
                        if not self._converts_later():
                            return "stop", path, []
                        conv = box[0] = _Converted(call)
                    path.append(call)
                    child = call
                    continue
                if verdict == "stop":
                    return "stop", path, []
                if isinstance(verdict, list):
                    return "assign", path + [call], verdict
                path.append(call)
                child = call
                continue
            elif t is cst.Call:
                if child is not parent.func:
                    return "stop", path, []
            elif t is cst.CompFor:
                if child is parent.iter and not self._comprehension_carries(parent, box):
                    # `tuple(s.detach() for s in state)`: the elements are cut, not the iterable carried
                    return "stop", path, []
            elif t is cst.UnaryOperation:
                if isinstance(parent.operator, cst.Not):
                    return "stop", path, []
            elif t is cst.Lambda and child is parent.body:
                return "return", path, []  # a lambda's body is its return value
            elif t in (cst.Comparison, cst.ComparisonTarget, cst.FormattedStringExpression, cst.Lambda,
                       cst.Decorator, cst.Assert, cst.Raise, cst.Del, cst.If, cst.While, cst.Param):
                return "stop", path, []
            elif t is cst.IfExp:
                if child is parent.test:
                    return "stop", path, []
            elif t is cst.Subscript:
                if child is not parent.value:
                    return "stop", path, []
                if element is not None and child is node and _constant_index(parent) not in (None, element):
                    return "stop", path, []  # `helper(x)[1]` when the value is the helper's element 0
            elif t is cst.DictElement:
                if child is parent.key or _is_log_key(parent.key):
                    return "stop", path, []
            elif t is cst.Return:
                return "return", path, []
            elif t in (cst.Yield, cst.Await) and t is cst.Yield:
                return "return", path, []
            elif t in (cst.Assign, cst.AnnAssign, cst.AugAssign):
                if t is cst.AugAssign and child is parent.target:
                    names = _target_names(parent.target)  # `x += y`: the old x lives on in x
                    return ("assign", path, names) if names else ("stop", path, [])
                if child is not parent.value:
                    return "stop", path, []
                targets = [x.target for x in parent.targets] if t is cst.Assign else [parent.target]
                position = element if child is node else _position_in(parent.value, path)
                if position is None and child is parent.value and self._values_and_indices(parent.value):
                    position = 0  # `_, idx = torch.topk(x, k)`: the indices carry nothing
                keep = self._computed_with
                if not isinstance(parent.value, (cst.Dict, cst.List, cst.Set, cst.Tuple)):
                    # a tensor under a log-like name (`log_lik`, `log_w`) returned beside another
                    # value (`return log_lik, kl`): its callers' use of that element decides
                    keep = self._computed_or_returned
                names = [n for tgt in targets for n in _target_names(_unpacked(tgt, position), keep=keep)]
                names += [n for tgt in targets for n in _self_attribute_names(_unpacked(tgt, position))]
                return ("assign", path, names) if names else ("stop", path, [])
            elif t is cst.NamedExpr:
                if child is parent.value:
                    names = _target_names(parent.target)
                    return ("assign", path, names) if names else ("stop", path, [])
            elif t is cst.For:
                if child is parent.iter:
                    names = _target_names(parent.target)
                    return ("assign", path, names) if names else ("stop", path, [])
                return "stop", path, []
            elif t is cst.WithItem:
                if parent.asname is not None:
                    names = _target_names(parent.asname.name)
                    return ("assign", path, names) if names else ("stop", path, [])
                return "stop", path, []
            elif isinstance(parent, (cst.BaseSmallStatement, cst.BaseCompoundStatement, cst.Module,
                                     cst.IndentedBlock, cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                return "dropped", path, []
            path.append(parent)
            child = parent

    def _computed_with(self, target: cst.BaseExpression, name: str) -> bool:
        return computes_with(self.model, target, name)

    def _computed_or_returned(self, target: cst.BaseExpression, name: str) -> bool:
        return computes_with(self.model, target, name) or returned_element(self.model, target, name)

    def _comprehension_carries(self, comp_for: cst.CompFor, box: list) -> bool:
        """Does a comprehension's element carry what its loop target is bound to? Each read of
        the target in the element is climbed: a read that ends at a cut (`s.detach()`,
        `s.shape[0]`) before reaching the element carries nothing. Unsure: True."""
        model = self.model
        comp = model.parent(comp_for)
        while isinstance(comp, cst.CompFor):  # an inner `for` of the same comprehension
            comp = model.parent(comp)
        if isinstance(comp, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            elt = comp.elt
        elif isinstance(comp, cst.DictComp):
            elt = comp.value
        else:
            return True
        bound = set(_target_names(comp_for.target))
        if not bound or not isinstance(comp_for.target, (cst.Name, cst.Tuple, cst.List)):
            return True
        if not isinstance(elt, (cst.Name, cst.Call, cst.Attribute, cst.Subscript, cst.BinaryOperation, cst.UnaryOperation)):
            return True
        reads = [n for n in descendants(elt) if type(n) is cst.Name and n.value in bound]
        for read in reads:
            if isinstance(model.parent(read), cst.Attribute) and model.parent(read).attr is read:
                continue
            end, path, _names = self._climb_tensor(read, None, [box[0]])
            if any(n is elt for n in path) or end != "stop":
                return True
        return False

    def _values_and_indices(self, value: cst.BaseExpression) -> bool:
        """`torch.topk(x, k)`, `x.sort()`, `x.max(dim=1)`: a (values, indices) pair."""
        if not isinstance(value, cst.Call):
            return False
        name = self.model.callee(value)
        func = value.func
        if name is not None:
            if name in ("torch.max", "torch.min"):
                return len(value.args) > 1  # `torch.max(x, 1)`; `torch.max(x)` is one tensor
            return name in VALUES_AND_INDICES
        if isinstance(func, cst.Attribute):
            if func.attr.value in ("max", "min"):
                return bool(value.args)  # `x.max(dim)`, not `x.max()`
            return func.attr.value in METHOD_VALUES_AND_INDICES
        return False

    def _converts_later(self) -> bool:
        """Worth following a conversion only in a file that can wrap it again."""
        return self._rewraps_in_file()

    def _rewraps_in_file(self) -> bool:
        got = self.__dict__.get("_rewraps")
        if got is None:
            model = self.model
            got = self._rewraps = any(
                (model.callee(c) in REWRAP_FUNCTIONS) or (isinstance(c.func, cst.Attribute) and c.func.attr.value in REWRAP_METHODS)
                for c, _ in model.calls)
        return got

    def _conversion_ahead(self, call: cst.Call) -> bool:
        """`t.cpu()` / `t.detach()` directly followed by `.numpy()` / `.tolist()` / `.item()`."""
        model = self.model
        node = call
        for _ in range(4):
            attr = model.parent(node)
            if not isinstance(attr, cst.Attribute) or attr.value is not node:
                return False
            outer = model.parent(attr)
            if not isinstance(outer, cst.Call) or outer.func is not attr:
                return False
            if attr.attr.value in CONVERSION_METHODS:
                return self._rewraps_in_file()
            if attr.attr.value not in _BEFORE_CONVERSION:
                return False
            node = outer
        return False

    def _argument(self, call: cst.Call, arg: cst.Arg):
        """What passing a value as `arg` to `call` does: carry, stop, loss, or taint names."""
        model = self.model
        func = call.func
        name = model.callee(call)
        text = dotted(func) or ""
        last = text.rsplit(".", 1)[-1] if text else ""
        if isinstance(func, cst.Attribute) and func.attr.value in MUTATORS:
            receiver = func.value
            names = _target_names(receiver)
            return names if names and not any(is_log_name(n) for n in names) else "stop"
        if name in BACKWARD_CALLS or last in ("manual_backward",) or (last == "backward" and arg is call.args[0]):
            return "loss"
        if name in PYRO_SAMPLE_SITES and arg.keyword is None and len(call.args) > 1 and arg is call.args[1]:
            return "loss"  # the ELBO differentiates the distribution given to `pyro.sample`
        if last == "gradient" and call.args and arg is call.args[0] and isinstance(func, cst.Attribute):
            return "loss"
        if isinstance(func, cst.Name) and func.value in NON_CARRYING_BUILTINS and name is None:
            return "stop"
        if name in NON_CARRYING_FUNCTIONS or (name or "").startswith(("math.", "logging.", "wandb.", "mlflow.", "warnings.")):
            return "stop"
        if is_logging_call(model, call):
            return "stop"
        # A function of the file, or of another project file (the project index's summary): does
        # this parameter reach its return, as a tensor of the graph or only as NumPy/Python data?
        callee = called_function(model, model.enclosing_function(call), call)
        summaries = model.get(Summaries)
        if callee is not None:
            effect = summaries.argument_effect(callee, call, arg)
        elif name is not None:
            effect = summaries.outside_effect(call, arg)
        else:
            effect = GRAPH
        return "carry" if effect == GRAPH else "convert" if effect == DATA else "stop"

    # ---- names -------------------------------------------------------------------------
    def order(self, node: cst.CSTNode) -> int:
        if self._order is None:
            nodes = self.model.nodes
            self._order = dict(zip(map(id, nodes), range(len(nodes))))
        return self._order.get(id(node), -1)

    def later_uses(self, fn: "FunctionInfo", name: str, stmt: Optional[cst.CSTNode]) -> Iterable[cst.Name]:
        if stmt is None:
            return []
        if name.startswith("self."):
            return self._later_attribute_reads(fn, name, stmt)
        uses, stores = self.name_index(fn)
        start = self.order(stmt)
        # The first later store that runs whenever `stmt` does kills the value: a store in the
        # other branch of an `if` (or under a condition `stmt` is not under) does not.
        limit = None
        later = [(o, node) for o, node in sorted(self._store_nodes[id(fn)].get(name, []), key=lambda p: p[0]) if o > start]
        for o, node in later:
            if self._dominated(stmt, node):
                limit = o
                break
        out = []
        for use in uses.get(name, []):
            tick()
            o = self.order(use)
            if o <= start:
                continue
            use_stmt = self.model.enclosing_statement(use)
            # `h = f(h)`: the right-hand side reads the old value before the store kills it
            if limit is not None and o > limit and self.order(use_stmt) != limit:
                continue
            if use_stmt is stmt:
                continue
            # A store between them that runs whenever the use does (`loss = ...` in a second
            # loop, before that loop's `loss.backward()`) kills the value for this use.
            if any(node is not use_stmt and self._dominated(use, node) for so, node in later[:32] if so < o):
                continue
            out.append(use)
        out.extend(self._loop_carried_uses(fn, name, stmt, start, uses.get(name, [])))
        return out

    def _loop_carried_uses(self, fn: "FunctionInfo", name: str, stmt: cst.CSTNode, start: int, uses) -> List[cst.Name]:
        """Uses of `name` earlier in a loop body than `stmt`: the next iteration reads what `stmt`
        stored (`h, z = step(h, z, a)` read by `feat = cat(h, z)` at the top of the loop), unless
        a store that runs on every iteration comes first (the loop's own target, `x = ...` at the
        top of the body)."""
        model = self.model
        stores = self._store_nodes[id(fn)].get(name, [])
        out: List[cst.Name] = []
        for loop in model.ancestors(stmt):
            if isinstance(loop, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                break
            if not isinstance(loop, (cst.For, cst.While)):
                continue
            if isinstance(loop, cst.For) and name in _target_names(loop.target):
                continue  # rebound on every iteration
            first = self.order(loop)
            for use in uses:
                o = self.order(use)
                if not first < o < start:
                    continue
                if isinstance(loop, cst.For) and any(a is loop.iter for a in model.ancestors(use)):
                    continue  # the iterable is evaluated once, before the first iteration
                use_stmt = model.enclosing_statement(use)
                if use_stmt is stmt:
                    continue
                if any(first < so < o and node is not use_stmt and self._dominated(stmt, node) for so, node in stores):
                    continue  # overwritten earlier in the body on every iteration
                out.append(use)
        return out

    def name_index(self, fn: "FunctionInfo"):
        key = id(fn)
        if key not in self._uses:
            collector = _NameUses(self.model)
            body = fn.node.body if fn is not None else self.model.module  # None: module-level code
            for node in descendants(body, prune=(cst.FunctionDef, cst.ClassDef)):  # nested defs excluded
                if type(node) is cst.Name:
                    collector.add_name(node)
            self._uses[key] = (collector.uses, {k: [self.order(s) for s in v] for k, v in collector.stores.items()})
            self._store_nodes[key] = {k: [(self.order(s), s) for s in v] for k, v in collector.stores.items()}
        return self._uses[key]

    def _later_attribute_reads(self, fn: "FunctionInfo", name: str, stmt: cst.CSTNode) -> List[cst.CSTNode]:
        """Reads of `self.<attr>` after `stmt` in the same method, up to the next store of it
        that always runs: `self.z = d.sample()` then `return self.dec(self.z)`. (Reads in the
        class's other methods depend on the order callers run them in: not followed.)"""
        if fn is None or fn.cls is None:
            return []
        start, attr = self.order(stmt), name[len("self."):]
        init = self.model.find_method(fn.cls, "__init__")
        if init is not None and init is not fn and any(
                type(n) is cst.Attribute and n.attr.value == attr and _is_name(n.value, "self")
                and isinstance(self.model.parent(n), cst.AssignTarget)
                for n in descendants(init.node.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda))):
            # state the constructor defines (a weight, a submodule, a buffer): replacing it in a
            # method is a change of state other rules judge (GS106), not a scratch value
            return []
        out: List[cst.CSTNode] = []
        for node in descendants(fn.node.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            if type(node) is not cst.Attribute or node.attr.value != attr or not _is_name(node.value, "self"):
                continue
            if self.order(node) <= start or self.model.enclosing_statement(node) is stmt:
                continue
            parent = self.model.parent(node)
            if isinstance(parent, cst.AssignTarget) or (isinstance(parent, (cst.AnnAssign, cst.AugAssign)) and parent.target is node):
                if self._dominated(stmt, node):
                    break  # a store that always runs after ours: later reads see the new value
                continue
            if isinstance(parent, (cst.Element, cst.StarredElement)) and self._store_element(parent):
                continue
            out.append(node)
        return out

    def _store_element(self, element: cst.CSTNode) -> bool:
        for anc in self.model.ancestors(element):
            if isinstance(anc, cst.AssignTarget):
                return True
            if not isinstance(anc, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
                return False
        return False

    _BRANCHES = (cst.If, cst.Else, cst.For, cst.While, cst.Try, cst.ExceptHandler, cst.Finally, cst.Match)

    def _dominated(self, first: cst.CSTNode, later: cst.CSTNode) -> bool:
        """Does `later` run whenever `first` has run (no branch holds `later` but not `first`)?"""
        first_anc = {id(a) for a in self.model.ancestors(first)}
        for anc in self.model.ancestors(later):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                break
            if isinstance(anc, self._BRANCHES) and id(anc) not in first_anc:
                return False
        return True


class _NameUses:
    """Loads and stores of plain names in one function body, given its names one by one."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self.uses: Dict[str, List[cst.Name]] = {}
        self.stores: Dict[str, List[cst.CSTNode]] = {}

    def add_name(self, node: cst.Name) -> None:
        parent = self.model.parent(node)
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return
        if isinstance(parent, (cst.Arg, cst.Param, cst.ImportAlias, cst.AsName, cst.FunctionDef, cst.ClassDef)) and not (isinstance(parent, cst.Arg) and parent.value is node):
            return
        if isinstance(parent, cst.AssignTarget) or (isinstance(parent, (cst.AnnAssign, cst.AugAssign, cst.NamedExpr)) and parent.target is node) or (isinstance(parent, (cst.For, cst.CompFor)) and parent.target is node) or isinstance(parent, (cst.Element, cst.StarredElement)) and self._in_target(parent):
            stmt = self.model.enclosing_statement(node)
            self.stores.setdefault(node.value, []).append(stmt)
            if isinstance(parent, cst.AugAssign):
                self.uses.setdefault(node.value, []).append(node)
            return
        self.uses.setdefault(node.value, []).append(node)

    def _in_target(self, node: cst.CSTNode) -> bool:
        for anc in self.model.ancestors(node):
            if isinstance(anc, cst.AssignTarget):
                return True
            if isinstance(anc, (cst.For, cst.CompFor)):
                return False
            if not isinstance(anc, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
                return False
        return False


def _callback_return(fn: "FunctionInfo", path: List[cst.CSTNode]) -> Optional[str]:
    """What a root's returned value is: Lightning backpropagates what `training_step` returns,
    or its dict's "loss" entry (the other entries are logged), so that is a loss; a forward's
    return is an output. None when the value is only in a training_step's other entries."""
    if fn.context is None or fn.context.kind != "training-step":
        return "return"
    for child, parent in zip(path, path[1:]):
        if isinstance(parent, cst.DictElement) and child is parent.value:
            key = parent.key
            return "loss" if isinstance(key, cst.SimpleString) and key.value.strip("'\"") == "loss" else None
    return "loss"


def is_conversion(node: cst.CSTNode) -> bool:
    """`x.numpy()`, `x.item()`, `float(x)`: NumPy or Python data, no graph (pt14)."""
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    if isinstance(func, cst.Attribute):
        return func.attr.value in CONVERSION_METHODS and not node.args
    return isinstance(func, cst.Name) and func.value in CONVERSION_BUILTINS


class _OverBudget(Exception):
    """A question's walk went past its budget."""


class _Converted:
    """A value turned into NumPy/Python data at `node`; `rewrapped` once it became a tensor again."""

    __slots__ = ("node", "rewrapped")

    def __init__(self, node: cst.CSTNode) -> None:
        self.node = node
        self.rewrapped = False


def _direct_call(call: cst.Call, fn: "FunctionInfo") -> bool:
    """Already yielded by name: `f(x)`, `self.f(x)`, `super().f(x)`."""
    func = call.func
    if isinstance(func, cst.Name):
        return func.value == fn.name
    return isinstance(func, cst.Attribute) and func.attr.value == fn.name and (
        dotted(func.value) == "self" or (isinstance(func.value, cst.Call) and dotted(func.value.func) == "super"))


def _target_names(target: cst.BaseExpression, keep: Optional[Callable[[cst.BaseExpression, str], bool]] = None) -> List[str]:
    """Plain names bound by an assignment target (`out[i] = v` binds `out`, `self.x = v` nothing),
    but not logs and caches: a value stored there goes nowhere the flow follows. A name that
    only looks like a log (`log_probs`, `log_var`, `summary`) is followed when `keep` says the
    code computes with it."""
    return [n for n in target_names(target, items=True) if not is_log_name(n) or (keep is not None and keep(target, n))]


# Method calls on a stored value that only read it out for a log, a cache or a container.
_READ_OUT = {"item", "tolist", "numpy", "cpu", "detach", "keys", "items", "values", "get", "update", "append",
             "extend", "copy", "clone", "to", "format", "__str__"}


def computes_with(model: "FileModel", near: cst.CSTNode, name: str) -> bool:
    """`name`, bound in `near`'s function, is read by a computation there: an operand of
    arithmetic, an argument of a call that is not a log, a print, a container method or a
    conversion, the receiver of a tensor method (`log_var.exp()`), or the whole returned value.
    What is only logged, appended, converted or returned beside an output is not."""
    fn = model.enclosing_function(near)
    scope = fn.node if fn is not None else model.module
    prune = (cst.FunctionDef, cst.ClassDef, cst.Lambda) if fn is not None else (cst.FunctionDef, cst.ClassDef)
    body = scope.body if fn is not None else scope
    for node in descendants(body, prune=prune):
        if type(node) is not cst.Name or node.value != name:
            continue
        parent = model.parent(node)
        t = type(parent)
        if t in (cst.BinaryOperation, cst.UnaryOperation):
            return True
        if t is cst.Return and parent.value is node:
            return True
        if t is cst.Attribute and parent.value is node:
            call = model.parent(parent)
            if type(call) is cst.Call and call.func is parent and parent.attr.value not in _READ_OUT \
                    and parent.attr.value not in CONVERSION_METHODS:
                return True
        if t is cst.Arg:
            call = model.parent(parent)
            if type(call) is not cst.Call or is_logging_call(model, call):
                continue
            func = call.func
            last = func.attr.value if type(func) is cst.Attribute else func.value if type(func) is cst.Name else ""
            if last in MUTATORS or last in _READ_OUT or last in NON_CARRYING_BUILTINS or last in ("print", "str", "repr", "len", "dict", "list", "tuple"):
                continue
            return True
    return False


def returned_element(model: "FileModel", near: cst.CSTNode, name: str) -> bool:
    """`name`, bound in `near`'s function, is an element of a tuple that function returns
    (`return log_lik, kl`): the flow follows the element to the callers, whose own use of the
    name they unpack it into decides (a log that a caller only prints stops there)."""
    fn = model.enclosing_function(near)
    if fn is None:
        return False
    for ret in fn.returns:
        value = ret.value
        if isinstance(value, (cst.Tuple, cst.List)) and any(
                isinstance(e, cst.Element) and isinstance(e.value, cst.Name) and e.value.value == name for e in value.elements):
            return True
    return False


def _returned_position(path: List[cst.CSTNode]) -> Optional[int]:
    """`return z, y` reached through `z`: 0. None when the whole value is returned."""
    if len(path) >= 2 and isinstance(path[-1], (cst.Tuple, cst.List)) and isinstance(path[-2], cst.Element):
        for i, e in enumerate(path[-1].elements):
            if e is path[-2]:
                return None if any(isinstance(x, cst.StarredElement) for x in path[-1].elements) else i
    return None


def _position_in(value: cst.BaseExpression, path: List[cst.CSTNode]) -> Optional[int]:
    """`a, b = h.detach(), y`: the position of the element of `value` the path went through."""
    if isinstance(value, (cst.Tuple, cst.List)) and not any(isinstance(x, cst.StarredElement) for x in value.elements):
        for i, e in enumerate(value.elements):
            if any(n is e for n in path):
                return i
    return None


def _is_name(node: cst.CSTNode, value: str) -> bool:
    return type(node) is cst.Name and node.value == value


def _self_attribute_names(target: cst.BaseExpression) -> List[str]:
    """`self.z = v`, `self.mu, self.logvar = ...`: "self.<attr>" for each attribute of `self`
    the target stores the value in (not a log or cache: `self.logs`, `self.last_metrics`)."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _self_attribute_names(e.value)]
    if isinstance(target, cst.Attribute) and _is_name(target.value, "self") and not is_log_name(target.attr.value):
        return [f"self.{target.attr.value}"]
    return []


def _unpacked(target: cst.BaseExpression, position: Optional[int]) -> cst.BaseExpression:
    """The part of an unpacking target that receives element `position` of the value."""
    if position is None or not isinstance(target, (cst.Tuple, cst.List)):
        return target
    elements = target.elements
    if any(isinstance(e, cst.StarredElement) for e in elements) or position >= len(elements):
        return target
    return elements[position].value


def _constant_index(sub: cst.Subscript) -> Optional[int]:
    if len(sub.slice) == 1 and isinstance(sub.slice[0].slice, cst.Index):
        value = sub.slice[0].slice.value
        if isinstance(value, cst.Integer):
            return int(value.value, 0)
    return None


def _is_log_key(key) -> bool:
    if isinstance(key, cst.SimpleString):
        text = key.value.strip("'\"rbuRBU")
        return is_log_name(text)
    return False


def is_logging_call(model: "FileModel", call: cst.Call) -> bool:
    """`print`, `self.log(...)`, `logger.info`, `wandb.log`, `writer.add_scalar`, `pbar.set_postfix`."""
    text = dotted(call.func)
    if text is None:
        return False
    parts = text.split(".")
    if len(parts) == 1:
        return parts[0] in ("print", "pprint")
    resolved = model.callee(call)
    if resolved and resolved.split(".")[0] in ("torch", "tensorflow", "jax", "numpy", "math", "keras", "flax"):
        return False
    if parts[-1] in LOG_METHODS and (parts[0] == "self" or any(is_log_name(p) for p in parts[:-1])):
        return True
    return any(is_log_name(p) for p in parts[:-1]) and parts[-1] not in ("append",)
