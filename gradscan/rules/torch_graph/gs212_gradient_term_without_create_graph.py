from __future__ import annotations

from typing import Iterator, List, Set

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, uses_torch
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics.contexts import in_no_grad_block
from gradscan.semantics.model import FileModel
from gradscan.semantics.walk import descendants, target_names

# Calls and attributes that end the gradient anyway: a gradient that only reaches the loss
# through them (an FGSM perturbation `x + eps * g.sign()` then `.detach()`) needs no graph.
_CUT_METHODS = {"detach", "detach_", "sign", "item", "tolist", "numpy", "argmax", "argmin", "round", "floor", "ceil"}
_CUT_FUNCTIONS = {"torch.sign", "torch.round", "torch.floor", "torch.ceil", "torch.argmax", "torch.argmin"}


class GradientTermWithoutCreateGraph(GraphRule):
    code = "GS212"
    name = "gradient-term-without-create-graph"
    summary = "`torch.autograd.grad(...)` without `create_graph=True` whose result (a gradient penalty, a PDE residual) is part of the loss: that term is a constant and trains nothing"
    message = "autograd.grad without create_graph=True: the loss term built on this gradient trains nothing"
    explanation = (
        "Without create_graph=True the gradients autograd.grad returns have no history: a penalty or residual built from "
        "them is a constant in the loss, so backward gives the weights no gradient from that term (a WGAN-GP critic "
        "ignores its penalty, a physics-informed network ignores its derivative terms)."
    )
    hint = "pass `create_graph=True` (and `retain_graph=True` when the outputs are used again)"
    facts = ("pt73",)
    triggers = ("autograd",)
    doc = """
    ## What it does
    Flags `torch.autograd.grad(outputs, inputs)` called without `create_graph=True` when the
    gradient it returns reaches a value that is backpropagated (`loss.backward()`), directly
    or through helpers: a gradient penalty `((g.norm(2, dim=1) - 1) ** 2).mean()`, an R1
    penalty, the derivative terms of a physics-informed residual `u_t + u * u_x`.

    ## Why it breaks gradients
    `torch.autograd.grad` returns plain tensors unless `create_graph=True` records how they
    were computed. Added to a loss, such a term has no `grad_fn`: the loss still
    backpropagates through its other terms, so nothing fails, but the term contributes
    nothing to any weight's gradient (fact pt73). A WGAN-GP critic then trains on the
    Wasserstein term alone; a PINN fits the data points and ignores the differential equation.

    Not flagged: a gradient only used through a cut (`x + eps * g.sign()` for an adversarial
    example, then `.detach()`), a gradient combined with the tensors it was taken with respect
    to (a first-order MAML step `w - lr * g`, an adversarial step `x + eps * g`: the loss
    reaches the weights through those), and gradients used for logging, clipping or a manual
    update.

    ## Example
    ```python
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    g = torch.autograd.grad(critic(mixed).sum(), mixed)[0]
    penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
    (wasserstein + 10 * penalty).backward()
    ```

    ## Use instead
    ```python
    g = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)[0]
    ```

    ## References
    - PyTorch docs: `torch.autograd.grad` (`create_graph`: "graph of the derivative will be constructed, allowing to compute higher order derivative products")
    - gradscan facts: pt73
    """
    invalid = (
        """
        import torch

        def penalty(critic, real, fake):
            alpha = torch.rand(real.size(0), 1)
            mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            grads = torch.autograd.grad(critic(mixed).sum(), mixed)[0]  # error: GS212
            return ((grads.norm(2, dim=1) - 1) ** 2).mean()

        def critic_step(critic, opt, real, fake):
            loss = critic(fake).mean() - critic(real).mean() + 10 * penalty(critic, real, fake)
            opt.zero_grad()
            loss.backward()
            opt.step()
        """,
    )
    valid = (
        """
        import torch
        import torch.nn.functional as F

        def penalty(critic, real, fake):
            alpha = torch.rand(real.size(0), 1)
            mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            grads = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)[0]
            return ((grads.norm(2, dim=1) - 1) ** 2).mean()

        def adversarial_step(model, opt, x, y, eps=0.1):
            x = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
            x_adv = (x + eps * g.sign()).detach()
            opt.zero_grad()
            F.cross_entropy(model(x_adv), y).backward()
            opt.step()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        for call, fn in model.calls:
            if model.callee(call) != "torch.autograd.grad":
                continue
            flag = keyword_argument(call, "create_graph")
            if flag is not None and not (isinstance(flag, cst.Name) and flag.value == "False"):
                continue  # create_graph=True, or decided at run time
            inputs = find_argument(call, 1, "inputs")
            if inputs is None or in_no_grad_block(model, call):
                continue
            if _combined_with_inputs(model, call, inputs, fn):
                continue
            trace = model.flow.reaches_output(call, module_level=True, barrier=lambda n: _is_cut(model, n))
            if trace is None or trace.sink != "loss" or _ends_in_another_grad(model, trace):
                continue
            yield Report(call)


def _is_cut(model: FileModel, node: cst.CSTNode) -> bool:
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _CUT_METHODS:
            return True
        return (model.callee(node) or "") in _CUT_FUNCTIONS
    return isinstance(node, cst.Attribute) and node.attr.value == "data"


def _combined_with_inputs(model: FileModel, call: cst.Call, inputs: cst.BaseExpression, fn) -> bool:
    """The gradient is used in a statement that also reads what it was taken with respect to
    (`[w - lr * g for w, g in zip(params, grads)]`, `x + eps * g`): the loss then reaches the
    weights through those tensors, a first-order step on purpose."""
    wanted = _input_keys(model, inputs)
    if not wanted:
        return False
    statement = model.enclosing_statement(call)
    if statement is None:
        return False
    inside = {id(n) for n in descendants(call)}
    if _reads(model, statement, wanted, inside):
        return True
    # follow the gradient through the names it is stored in (`grad = std * grad`, then
    # `x = x + scale * grad`), a few statements deep
    todo = [(statement, name) for name in _assigned_names(statement)]
    seen = set()
    while todo and len(seen) < 12:
        stmt0, name = todo.pop()
        if (id(stmt0), name) in seen:
            continue
        seen.add((id(stmt0), name))
        for use in model.flow.later_uses(fn, name, stmt0):
            stmt = model.enclosing_statement(use)
            if stmt is None:
                continue
            if _reads(model, stmt, wanted, set()):
                return True
            todo.extend((stmt, n) for n in _assigned_names(stmt))
    return False


def _ends_in_another_grad(model: FileModel, trace) -> bool:
    """The path ends as an argument of another `torch.autograd.grad` (guidance or a saliency
    loop differentiating again), not in a backpropagated loss."""
    if not trace.path:
        return False
    for anc in model.ancestors(trace.path[-1]):
        if isinstance(anc, cst.Call):
            return (model.callee(anc) or "").startswith("torch.autograd.")
        if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            return False
    return False


def _input_keys(model: FileModel, inputs: cst.BaseExpression) -> Set[str]:
    """The plain names and the source text of what the gradient is taken with respect to."""
    keys = {" ".join(model.module.code_for_node(inputs).split())}
    elements = inputs.elements if isinstance(inputs, (cst.List, cst.Tuple)) else [inputs]
    for element in elements:
        value = element.value if isinstance(element, (cst.Element, cst.StarredElement)) else element
        keys.add(" ".join(model.module.code_for_node(value).split()))
    return keys


def _reads(model: FileModel, statement: cst.CSTNode, keys: Set[str], skip: Set[int]) -> bool:
    for node in descendants(statement):
        if id(node) in skip:
            continue
        if isinstance(node, (cst.Name, cst.Attribute, cst.Call)):
            parent = model.parent(node)
            if isinstance(parent, cst.Attribute) and parent.attr is node:
                continue
            if " ".join(model.module.code_for_node(node).split()) in keys:
                return True
    return False


def _assigned_names(statement: cst.CSTNode) -> List[str]:
    out: List[str] = []
    smalls = statement.body if isinstance(statement, cst.SimpleStatementLine) else [statement]
    for small in smalls:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                out.extend(target_names(target.target))
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            out.extend(target_names(small.target))
    return out


