from __future__ import annotations

from typing import Dict, Iterator, List, Set

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.tensorflow.helpers import function_named, is_name, method_name
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

_FIT_METHODS = {"fit", "fit_generator", "train_on_batch"}


class TrainableChangedAfterCompile(Rule):
    code = "GS409"
    name = "trainable-changed-after-compile"
    framework = "tensorflow"
    summary = "`layer.trainable = ...` after `compile()` and `fit()`, then `fit()` again without recompiling: the change is ignored"
    message = "trainable changed after compile() is ignored by the next fit(); call compile() again"
    explanation = (
        "fit() keeps the trainable weights it compiled: a layer frozen after compile() and training keeps "
        "training (and the reverse) until the model is compiled again."
    )
    hint = "call `model.compile(...)` again after changing `trainable`"
    facts = ("tf43",)
    triggers = ("trainable",)
    doc = """
    ## What it does
    Flags `x.trainable = ...` when, in the same function (or module), the model `x` belongs to
    was compiled and trained (`fit`, `fit_generator`, `train_on_batch`) before the change and is
    trained again after it, with no `compile()` of that model in between. `x` belongs to model
    `m` when it is `m` itself, an attribute or `m.layers[i]`/`m.get_layer(...)` of it, a loop
    variable over `m.layers`, or a layer named in the expression that built `m`
    (`keras.Model(inputs, d2(d1(inputs)))`, `Sequential([d1, d2])`, `m.add(d1)`). A call of a
    function of the file that sets its parameter's `trainable` (or that of each layer it loops
    over: `def make_trainable(net, flag): for l in net.layers: l.trainable = flag`) is a change
    of the argument it is given. A call of a function of the file that compiles or fits its
    parameter is that compile or fit of the argument. The two phases may live in helpers: a
    function that changes `trainable` and fits again is judged for each of its call sites, where
    the model it is given was compiled and trained before the call and the layer it changes is
    one of that model's (`warm_up(clf); unfreeze_and_train(clf, base)`).

    ## Why it breaks gradients
    `compile()` together with the first `fit()` fixes which weights the train function updates.
    Changing `trainable` afterwards has no effect on later `fit()` calls until the model is
    compiled again: the layer you froze keeps being updated, in Keras 3 and `tf_keras` alike
    (fact tf43). The rule needs a `fit()` before the change because under Keras 3 a change
    between `compile()` and the first `fit()` *is* honoured (the train function is built on the
    first `fit()`; `tf_keras` ignores it either way); it needs a `fit()` after the change
    because otherwise nothing trains with the stale setting in that scope.

    Not flagged: the GAN idiom (compile the discriminator, set `D.trainable = False`, compile
    the combined model), any later `compile()` of the model, and changes in callbacks or other
    functions than the ones that compile and fit.

    ## Example
    ```python
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = False
    model.fit(x, y)  # base still trains
    ```

    ## Use instead
    ```python
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = False
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## References
    - Keras guide "Transfer learning & fine-tuning": recompile after changing `trainable`
    - gradscan facts: tf43
    """
    invalid = (
        """
        import tensorflow as tf

        def fine_tune(base, x, y):
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=2)
            base.trainable = False  # error: GS409
            model.fit(x, y, epochs=2)
        """,
    )
    valid = (
        """
        import tensorflow as tf

        def fine_tune(base, x, y):
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=2)
            base.trainable = False
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=2)

        def gan(generator, discriminator, z, x, y):
            discriminator.compile(optimizer="adam", loss="bce")
            discriminator.trainable = False
            combined = tf.keras.Sequential([generator, discriminator])
            combined.compile(optimizer="adam", loss="bce")
            discriminator.train_on_batch(x, y)
            combined.train_on_batch(z, y)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        by_scope = self._events(model)
        if not by_scope:
            return
        contexts = self._entry_contexts(model, by_scope)
        for node, expr, fn, when in self._changes(model):
            # the scope alone, then once per call site of it (never facts of two call sites mixed)
            for extra, links in [((), ()), *contexts.get(id(fn), ())]:
                events = [*by_scope.get(id(fn), ()), *extra]
                if events and self._flagged(model, expr, fn, when, events, links):
                    yield Report(node)
                    break

    def _flagged(self, model: FileModel, expr, fn, when, events, links) -> bool:
        for owner in {e[2] for e in events}:
            if not (self._belongs(model, expr, owner, fn, when[0]) or self._linked(model, links, expr, owner, fn)):
                continue
            compiles = [e[0] for e in events if e[2] == owner and e[1] == "compile"]
            fits = [e[0] for e in events if e[2] == owner and e[1] == "fit"]
            if not compiles or any(c > when for c in compiles):
                continue
            first = min(compiles)
            if not any(first < f < when for f in fits):
                continue
            # a fit inside the same helper call as the change is judged in the helper
            later = [f for f in fits if f > when and f[0] != when[0]]
            if not later or self._reset_between(model, dotted(expr), fn, when, min(later)):
                continue
            return True
        return False

    def _events(self, model: FileModel) -> Dict[int, List]:
        """id(scope) -> [(time, "compile"|"fit", owner text, node)]. A time is (order, inner): a
        call of a function of the file that compiles or fits one of its parameters is that
        compile/fit of the argument, at the call (inner: its place in the callee)."""
        order = model.flow.order
        by_scope: Dict[int, List] = {}
        summaries = self._summaries(model)
        by_node = {id(info.node): info for info in model.functions}
        for call, fn in model.calls:
            method = method_name(call)
            if method in ("compile", *_FIT_METHODS):
                owner = dotted(call.func.value)
                if owner:
                    by_scope.setdefault(id(fn), []).append(((order(call), 0), "compile" if method == "compile" else "fit", owner, call))
            elif isinstance(call.func, (cst.Name, cst.Attribute)) and summaries:
                target = function_named(model, fn, call.func)
                info = by_node.get(id(target)) if target is not None else None
                for inner, kind, param in summaries.get(id(info), ()) if info is not None else ():
                    arg = argument_for(info, call, param)
                    if arg is not None and dotted(arg):
                        by_scope.setdefault(id(fn), []).append(((order(call), inner), kind, dotted(arg), call))
        return by_scope

    @staticmethod
    def _summaries(model: FileModel) -> Dict[int, List]:
        """id(function) -> [(order, kind, parameter)]: its compile/fit calls on a parameter."""
        order = model.flow.order
        out: Dict[int, List] = {}
        for call, fn in model.calls:
            method = method_name(call)
            if fn is None or method not in ("compile", *_FIT_METHODS) or not isinstance(call.func.value, cst.Name):
                continue
            if call.func.value.value in fn.params:
                out.setdefault(id(fn), []).append((order(call), "compile" if method == "compile" else "fit", call.func.value.value))
        return out

    def _entry_contexts(self, model: FileModel, by_scope: Dict[int, List]) -> Dict[int, List]:
        """id(function) -> one (events, links) per call site of it in the file: (1) a parameter
        bound to a model the caller compiled and trained before the call
        (`phase_one(model); phase_two(model, base)`) is compiled and trained on entry; (2) links
        (layer parameter, model parameter) where the call site passes a layer of the model
        (`_belongs` there) for the first and that model for the second."""
        order = model.flow.order
        out: Dict[int, List] = {}
        for call, caller in model.calls:
            if not isinstance(call.func, (cst.Name, cst.Attribute)):
                continue
            target = function_named(model, caller, call.func)
            info = next((i for i in model.functions if i.node is target), None) if target is not None else None
            if info is None or info is caller:
                continue
            events = by_scope.get(id(caller), [])
            at = (order(call), -1)
            bound = {}
            for param in info.params:
                arg = argument_for(info, call, param)
                if arg is not None and dotted(arg):
                    bound[param] = arg
            extra = []
            for param, arg in bound.items():
                owner = dotted(arg)
                compiles = [e[0] for e in events if e[2] == owner and e[1] == "compile" and e[0] < at]
                if compiles and any(e[2] == owner and e[1] == "fit" and min(compiles) < e[0] < at for e in events):
                    extra += [((-1, 0), "compile", param, call), ((-1, 1), "fit", param, call)]
            if not extra:
                continue
            links = {
                (layer_param, model_param)
                for layer_param, arg in bound.items()
                for model_param, model_arg in bound.items()
                if layer_param != model_param and self._belongs(model, arg, dotted(model_arg), caller, order(call))
            }
            out.setdefault(id(info), []).append((extra, links))
        return out

    @staticmethod
    def _linked(model: FileModel, links, expr, owner: str, fn) -> bool:
        """Is `expr` rooted at a parameter a call site bound to a layer of the parameter `owner`
        (directly, or as a loop variable over it: `for layer in base.layers:`)?"""
        if not links:
            return False
        base = expr
        for _ in range(4):
            while isinstance(base, (cst.Subscript, cst.Call, cst.Attribute)):
                base = base.value if isinstance(base, (cst.Subscript, cst.Attribute)) else base.func
            if not isinstance(base, cst.Name):
                return False
            if (base.value, owner) in links:
                return True
            loop = next((a for a in model.ancestors(expr) if isinstance(a, cst.For) and is_name(a.target, base.value)), None)
            if loop is None:
                return False
            base = loop.iter
        return False

    def _changes(self, model: FileModel):
        """(node, expression whose `trainable` changes, scope): `x.trainable = ...` statements,
        and calls of a function of the file that sets its parameter's `trainable` (or that of
        each layer it loops over: `def make_trainable(net, flag): net.trainable = flag`), with
        the argument bound to that parameter."""
        order = model.flow.order
        for node, target, fn in self._trainable_sets(model):
            yield node, target.value, fn, (order(node), 0)
        setters = self._setters(model)
        if not setters:
            return
        by_node = {id(info.node): info for info in model.functions}
        for call, fn in model.calls:
            if not isinstance(call.func, cst.Name):
                continue
            target = function_named(model, fn, call.func)
            info = by_node.get(id(target)) if target is not None else None
            if info is None or id(info) not in setters:
                continue
            for param in sorted(setters[id(info)]):
                arg = argument_for(info, call, param)
                if arg is not None and dotted(arg):
                    # at its place inside the helper, so the helper's own compile()/fit() of an
                    # argument (summarised at the call by `_events`) fall before or after it
                    yield call, arg, fn, (order(call), setters[id(info)][param])

    @staticmethod
    def _trainable_sets(model: FileModel):
        for node, fn in model.assignments:
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    if isinstance(t.target, cst.Attribute) and t.target.attr.value == "trainable":
                        yield node, t.target, fn

    def _setters(self, model: FileModel) -> Dict[int, Dict[str, int]]:
        """id(function) -> its parameters whose `trainable` it sets, directly or on each element
        of a loop over one of their attributes (`for layer in net.layers:`), each with the
        order of its first such statement."""
        order = model.flow.order
        out: Dict[int, Dict[str, int]] = {}
        for node, target, fn in self._trainable_sets(model):
            if fn is None:
                continue
            params = {p.name.value for p in (*fn.node.params.posonly_params, *fn.node.params.params)}
            base = target.value
            if not isinstance(base, cst.Name):
                continue
            if base.value in params:
                seen = out.setdefault(id(fn), {})
                seen[base.value] = min(seen.get(base.value, order(node)), order(node))
                continue
            for anc in model.ancestors(node):
                if anc is fn.node:
                    break
                if isinstance(anc, cst.For) and is_name(anc.target, base.value):
                    root = anc.iter
                    while isinstance(root, (cst.Attribute, cst.Subscript, cst.Call)):
                        root = root.func if isinstance(root, cst.Call) else root.value
                    if isinstance(root, cst.Name) and root.value in params and root is not anc.iter:
                        seen = out.setdefault(id(fn), {})
                        seen[root.value] = min(seen.get(root.value, order(node)), order(node))
                    break
        return out

    def _reset_between(self, model: FileModel, text, fn, start, end) -> bool:
        for node, expr, owner, when in self._changes(model):
            if owner is fn and start < when < end and dotted(expr) == text:
                return True
        return False

    def _belongs(self, model: FileModel, expr: cst.BaseExpression, owner: str, fn, when: int) -> bool:
        """Is `expr` (whose `trainable` is set) the model `owner` or one of its layers?"""
        base = expr
        while isinstance(base, (cst.Subscript, cst.Call, cst.Attribute)):
            text = dotted(base)
            if text == owner:
                return True
            base = base.value if isinstance(base, (cst.Subscript, cst.Attribute)) else base.func
        text = dotted(base)
        if text == owner:
            return True
        if not isinstance(expr, cst.Name):
            return False
        name = expr.value
        # a loop variable over `owner.layers`
        for anc in model.ancestors(expr):
            if isinstance(anc, cst.For) and is_name(anc.target, name):
                it = anc.iter
                while isinstance(it, (cst.Subscript, cst.Call)):
                    it = it.value if isinstance(it, cst.Subscript) else it.func
                text = dotted(it) or ""
                if text.startswith(owner + "."):
                    return True
            if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
                break
        # a layer named in the expression that built the model, or added to it
        return name in self._built_from(model, owner, fn, when)

    @staticmethod
    def _built_from(model: FileModel, owner: str, fn, when: int, depth: int = 3) -> Set[str]:
        order = model.flow.order
        names: Set[str] = set()
        todo = [(owner, depth)]
        done: Set[str] = set()
        while todo:
            current, d = todo.pop()
            if current in done or d < 0:
                continue
            done.add(current)
            for node, owner_fn in model.assignments:
                if owner_fn is not fn or not isinstance(node, cst.Assign) or order(node) > when:
                    continue
                if not any(dotted(t.target) == current for t in node.targets):
                    continue
                for sub in descendants(node.value):
                    if isinstance(sub, cst.Name) and sub.value not in names:
                        names.add(sub.value)
                        todo.append((sub.value, d - 1))
            for call, owner_fn in model.calls:
                if owner_fn is fn and method_name(call) == "add" and dotted(call.func.value) == current:
                    for arg in call.args:
                        for sub in descendants(arg.value):
                            if isinstance(sub, cst.Name):
                                names.add(sub.value)
        return names
