from __future__ import annotations

from typing import Iterator, List, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.training_loop.helpers import SCOPES, method_name
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.model import FileModel
from gradscan.semantics.walk import descendants


class ZeroGradEveryMicroBatch(Rule):
    code = "GS603"
    name = "zero-grad-every-micro-batch"
    framework = "torch"
    summary = "`zero_grad()` on every micro-batch while `step()` runs every N: the accumulation keeps only the last micro-batch"
    message = "`zero_grad()` on every micro-batch discards the accumulated gradients; call it after step()"
    explanation = (
        "With step() only every few micro-batches, each step applies the last micro-batch's gradient alone: the "
        "others are computed and wiped."
    )
    hint = "call zero_grad() right after step(), inside the same `if`"
    facts = ("pt36",)
    triggers = ("zero_grad",)
    doc = """
    ## What it does
    Flags `optimizer.zero_grad()` (or `model.zero_grad()`) that runs on every iteration of a
    loop that calls `.backward()` on every iteration but `optimizer.step()` only under a
    condition (`if (i + 1) % accum_steps == 0:`): gradient accumulation written so that it
    accumulates nothing. A function whose `step()` waits for a modulo of its iteration
    (an engine's `update_fn(engine, batch)`, called once per micro-batch) is read the same
    way, and so is a `zero_grad()` before the backward under the very `if` that guards the
    `step()` (it wipes the window just before applying it). A helper of this file called on
    every micro-batch (`micro_step(net, opt, batch)`, `self._accumulate(batch)`) is read as
    part of the loop, its parameters as the arguments passed (`opt.zero_grad()` there clears
    the optimizer the loop steps). Each optimizer is paired with its
    own steps (`opt.step()`, AMP's `scaler.step(opt)`), so a profiler's or another optimizer's
    per-iteration `step()` does not hide it. Not flagged: `zero_grad()` after the `step()`,
    under a different test (`(i - 1) % n == 0`, the first micro-batch of the window), when the
    optimizer's own `step()` runs every iteration, or when a second loss is backpropagated
    under the condition between its `zero_grad()` and `step()` (a generator trained every N).

    ## Why it breaks gradients
    `backward()` adds into `.grad`; `zero_grad()` resets it. Reset before each micro-batch, the
    gradient the conditional `step()` applies is that of the last micro-batch only: the other
    N - 1 micro-batches are computed and thrown away, the effective batch is N times smaller
    than intended, and nothing warns. Proved by the project's oracle test for GS603 (fact pt36).

    ## Example
    ```python
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(x), y) / accum_steps
        loss.backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
    ```

    ## Use instead
    ```python
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / accum_steps
        loss.backward()
        if (i + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
    ```

    ## References
    - PyTorch docs: `torch.optim.Optimizer.zero_grad`, "gradient accumulation" in the AMP examples
    """
    invalid = (
        """
        def train(model, loader, optimizer, criterion, accum_steps=4):
            for i, (x, y) in enumerate(loader):
                optimizer.zero_grad()  # error: GS603
                loss = criterion(model(x), y) / accum_steps
                loss.backward()
                if (i + 1) % accum_steps == 0:
                    optimizer.step()
        """,
    )
    valid = (
        """
        def train(model, loader, optimizer, criterion, accum_steps=4):
            for i, (x, y) in enumerate(loader):
                loss = criterion(model(x), y) / accum_steps
                loss.backward()
                if (i + 1) % accum_steps == 0:
                    optimizer.step()
                    optimizer.zero_grad()
        """,
        """
        def train(model, loader, optimizer, criterion):
            for x, y in loader:
                optimizer.zero_grad()
                loss = criterion(model(x), y)
                loss.backward()
                if loss.isfinite():
                    optimizer.step()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        # A loop body runs once per micro-batch; so does a function whose step() waits for a
        # modulo of its iteration argument (an engine's `update_fn(engine, batch)`): the same shape.
        for scope in (n for n in model.nodes if type(n) in (cst.For, cst.While, cst.FunctionDef)):
            view = _Body(model, scope)
            body = view.calls
            backward_every = [c for c in body if method_name(c) == "backward" and view.unconditional(c)]
            if not backward_every:
                continue
            first_backward = min(body.index(c) for c in backward_every)  # preorder: source order
            for call in body:
                if method_name(call) != "zero_grad":
                    continue
                steps = _steps_of(view, call, body)
                if not steps or not all(view.every_n(c) for c in steps):
                    continue
                tests = view.conditions(call)
                if tests is None or _between_backward_and_step(call, steps, body):
                    continue  # GS601's finding
                step_tests = {_code(t) for c in steps for t in view.conditions(c)}
                # Unconditional, or under the very test that guards step() but before the backward:
                # on the stepping micro-batch it wipes what the others accumulated.
                if not tests or (body.index(call) < first_backward and all(_code(t) in step_tests for t in tests)
                                 and not _own_backward(view, call, steps, body)):
                    yield Report(call)


class _Body:
    """The calls one loop iteration (or one call of a per-batch function) makes, in source
    order, with the calls of the helpers of this file it calls inlined one level deep (a
    `micro_step(net, opt, batch)` that clears and backpropagates, called from the loop that
    steps every N): their conditions are those around the helper's call plus their own, and
    a parameter receiver (`opt.zero_grad()` in the helper) reads as the argument passed."""

    def __init__(self, model: FileModel, scope: cst.CSTNode) -> None:
        self.model, self.scope = model, scope
        self.site: dict = {}      # id(inlined call) -> (the helper's call in the loop, the helper's def)
        self.receiver: dict = {}  # id(inlined call) -> its receiver as the loop names it
        owner = model.enclosing_function(scope) if type(scope) is not cst.FunctionDef else _function_of(model, scope)
        calls: List[cst.Call] = []
        for call in _own_calls(scope.body):
            calls.append(call)
            helper = model.objects.called_function(call, owner) if type(call.func) in (cst.Name, cst.Attribute) else None
            if helper is None or not isinstance(helper.node, cst.FunctionDef) or helper.node is scope \
                    or any(a is helper.node for a in model.ancestors(scope)):
                continue
            for inner in _own_calls(helper.node.body):
                if method_name(inner) not in ("zero_grad", "backward", "step"):
                    continue
                self.site[id(inner)] = (call, helper)
                recv = inner.func.value if isinstance(inner.func, cst.Attribute) else None
                calls.append(inner)
                if recv is not None:
                    self.receiver[id(inner)] = self.text_in(inner, recv)
        self.calls = calls

    def text_in(self, call: cst.Call, expr: cst.BaseExpression) -> str:
        """`expr`, an argument of `call`, as the loop names it."""
        if id(call) in self.site and isinstance(expr, cst.Name):
            at, helper = self.site[id(call)]
            if expr.value in helper.params:
                passed = argument_for(helper, at, expr.value)
                if passed is not None:
                    return _code(passed)
        return _code(expr)

    def receiver_of(self, call: cst.Call) -> Optional[str]:
        if id(call) in self.receiver:
            return self.receiver[id(call)]
        return _code(call.func.value) if isinstance(call.func, cst.Attribute) else None

    def conditions(self, node: cst.CSTNode) -> Optional[List[cst.CSTNode]]:
        if id(node) not in self.site:
            return _conditions(self.model, node, self.scope)
        at, helper = self.site[id(node)]
        inner = _conditions(self.model, node, helper.node)
        outer = _conditions(self.model, at, self.scope)
        return None if inner is None or outer is None else inner + outer

    def unconditional(self, node: cst.CSTNode) -> bool:
        tests = self.conditions(node)
        return tests is not None and not tests

    def every_n(self, node: cst.CSTNode) -> bool:
        """Under an `if` whose test takes a modulo (`(i + 1) % accum == 0`): every N iterations."""
        tests = self.conditions(node)
        return bool(tests) and any(
            any(type(n) is cst.BinaryOperation and type(n.operator) is cst.Modulo for n in descendants(t))
            for t in tests)


def _function_of(model: FileModel, node: cst.FunctionDef):
    return next((f for f in model.functions if f.node is node), None)


def _between_backward_and_step(zero_grad: cst.Call, steps: List[cst.Call], body: List[cst.Call]) -> bool:
    """`backward(); zero_grad(); step()`: no backward between the zero_grad and its first step,
    a backward before it, and a step after it."""
    at = body.index(zero_grad)
    first_step = min(body.index(c) for c in steps)
    if at > first_step or any(method_name(c) == "backward" for c in body[at + 1:first_step]):
        return False
    return any(method_name(c) == "backward" for c in body[:at])


def _own_backward(view: "_Body", zero_grad: cst.Call, steps: List[cst.Call], body: List[cst.Call]) -> bool:
    """A conditional backward between the conditional zero_grad and its step: a second loss
    trained every N (a GAN's generator), not an accumulation window."""
    start, end = body.index(zero_grad), max(body.index(c) for c in steps)
    return any(method_name(c) == "backward" and start < i < end and view.conditions(c)
               for i, c in enumerate(body))


def _steps_of(view: "_Body", zero_grad: cst.Call, body: List[cst.Call]) -> List[cst.Call]:
    """The steps that apply what `zero_grad`'s receiver holds: `opt.step()` and AMP's
    `scaler.step(opt)` for an optimizer `opt`; every argument-less `step()` of the loop for a
    receiver never stepped by name (`model.zero_grad()`)."""
    receiver = view.receiver_of(zero_grad)
    own = [c for c in body if method_name(c) == "step" and receiver is not None and (
        (not c.args and isinstance(c.func, cst.Attribute) and view.receiver_of(c) == receiver)
        or any(view.text_in(c, arg.value) == receiver for arg in c.args))]
    return own or [c for c in body if method_name(c) == "step" and not c.args]


def _own_calls(block: cst.CSTNode) -> List[cst.Call]:
    """Calls in the loop body, not in nested functions or classes."""
    return [n for n in descendants(block, prune=SCOPES) if type(n) is cst.Call]


def _conditions(model: FileModel, node: cst.CSTNode, loop: cst.CSTNode) -> Optional[List[cst.CSTNode]]:
    """The `if` tests between `node` and `loop` (None when a nested loop or scope is between)."""
    tests = []
    child = node
    for anc in model.ancestors(node):
        if anc is loop:
            return tests
        if type(anc) in (cst.For, cst.While) or type(anc) in SCOPES:
            return None
        if type(anc) is cst.If and child is not anc.test:
            tests.append(anc.test)
        child = anc
    return None


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)
