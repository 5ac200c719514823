from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.sampling.helpers import SamplingRule
from gradscan.semantics import distributions as dists
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.model import FileModel


class RelaxedSampleToIndex(SamplingRule):
    code = "GS307"
    name = "relaxed-sample-to-index"
    framework = "any"
    summary = "A straight-through / relaxed sample (`gumbel_softmax`, `RelaxedOneHotCategorical`) turned into an index by argmax on the way to the loss: its logits get no gradient"
    message = "argmax of a straight-through/relaxed sample: the index carries no gradient; use the one-hot itself"
    explanation = ("A Gumbel-softmax or relaxed one-hot sample passes gradients only as the (one-hot) tensor it is: "
                   "its argmax is an integer index with no gradient, so an embedding lookup or gather with it leaves "
                   "the logits untrained.")
    hint = "multiply the one-hot sample with the table (`onehot @ embedding.weight`) instead of indexing with its argmax"
    facts = ("pt54",)
    triggers = ("gumbel_softmax", "Relaxed", "StraightThrough")
    doc = """
    ## What it does
    Flags `argmax` (`x.argmax(-1)`, `torch.argmax(x)`, `tf.argmax(x)`, `x.max(-1).indices`)
    of a straight-through or relaxed categorical sample whose logits come from the graph
    (`F.gumbel_softmax(logits, hard=True)`, `RelaxedOneHotCategorical(...).rsample()`,
    `OneHotCategoricalStraightThrough(...).rsample()`, TF Probability's
    `RelaxedOneHotCategorical(...).sample()`), when the index reaches the loss (an embedding
    lookup, a gather) and the sample itself reaches it no other way. The argmax may be in a
    helper the one-hot is passed to (`def to_index(onehot): return onehot.max(-1)[1]`), and the
    lookup at the helper's caller.

    ## Why it breaks gradients
    The point of these samplers is the gradient they pass as a tensor: `hard=True` returns a
    one-hot whose backward is the soft sample's. `argmax` turns it into an integer tensor with
    no `grad_fn` (fact pt54): the lookup that follows trains the table, but the logits that
    chose the entry get no gradient at all, silently.

    Not flagged: an argmax used for logging, metrics or counting code usage; an argmax beside a
    pathwise use of the one-hot (`onehot @ table` in the loss); samples drawn under `no_grad`
    or in generation and evaluation code.

    ## Example
    ```python
    onehot = F.gumbel_softmax(self.router(h), tau=1.0, hard=True)
    return self.codebook(onehot.argmax(-1))
    ```

    ## Use instead
    ```python
    onehot = F.gumbel_softmax(self.router(h), tau=1.0, hard=True)
    return onehot @ self.codebook.weight
    ```

    ## References
    - PyTorch docs: `torch.nn.functional.gumbel_softmax` (hard=True: straight-through)
    - Jang et al., "Categorical Reparameterization with Gumbel-Softmax"
    """
    invalid = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        class Router(nn.Module):
            def __init__(self):
                super().__init__()
                self.router = nn.Linear(8, 4)
                self.codebook = nn.Embedding(4, 8)

            def forward(self, h):
                onehot = F.gumbel_softmax(self.router(h), hard=True)
                return self.codebook(onehot.argmax(-1))  # error: GS307
        """,
    )
    valid = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        class Router(nn.Module):
            def __init__(self):
                super().__init__()
                self.router = nn.Linear(8, 4)
                self.codebook = nn.Embedding(4, 8)

            def forward(self, h):
                onehot = F.gumbel_softmax(self.router(h), hard=True)
                return onehot @ self.codebook.weight
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for node, _fn in model.calls:
            operand = _argmax_operand(model, node)
            call = node
            if operand is None:
                # `x.max(-1).indices`, `torch.max(x, -1)[1]`: the index is the selection of the max
                operand, call = _max_indices(model, node)
                if operand is None:
                    continue
            via: list = []
            sample = _relaxed_operand(model, operand, via=via)
            if sample is None:
                continue
            frameworks = ("tensorflow",) if (model.callee(node) or "").startswith("tensorflow.") else ("torch",)
            if self._reaches_loss(model, call, frameworks) is None and not any(
                    self._reaches_loss(model, consumer, frameworks) is not None for consumer in _index_consumers(model, call)):
                continue
            script = model.context_of(sample) is None
            # The one-hot's own way to the loss (`onehot @ table`): then the logits train.
            # (The helper calls the one-hot was passed through to the argmax are that argmax.)
            if model.flow.reaches_output(sample, barrier=lambda n, c=call, v=tuple(via): n is c or any(n is x for x in v),
                                         module_level=script) is not None:
                continue
            yield Report(node, "argmax of a straight-through/relaxed sample: the index carries no gradient to its logits")


ARGMAX_FUNCTIONS = {"torch.argmax", "tensorflow.argmax", "tensorflow.math.argmax"}


def _argmax_operand(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
    """The tensor an argmax call takes: `x.argmax(-1)`, `torch.argmax(x, -1)`, `tf.argmax(x, -1)`."""
    func = call.func
    q = model.callee(call)
    if q in ARGMAX_FUNCTIONS:
        return call.args[0].value if call.args and call.args[0].keyword is None else None
    if q is None and isinstance(func, cst.Attribute) and func.attr.value == "argmax":
        return func.value
    return None


MAX_FUNCTIONS = {"torch.max", "tensorflow.math.top_k", "tensorflow.nn.top_k"}


def _max_indices(model: FileModel, node: cst.Call):
    """(operand, index expression) for the index half of a max: `x.max(-1).indices`,
    `x.max(dim=-1)[1]`, `torch.max(x, -1).indices`, `tf.math.top_k(x, 1).indices`; (None, None)
    otherwise. A max over the whole tensor (`x.max()`) is a value, not an index."""
    func = node.func
    q = model.callee(node)
    if q in MAX_FUNCTIONS:
        operand = node.args[0].value if node.args and node.args[0].keyword is None else None
        if q == "torch.max" and len(node.args) < 2:
            return None, None
    elif q is None and isinstance(func, cst.Attribute) and func.attr.value == "max" and node.args:
        operand = func.value
    else:
        return None, None
    parent = model.parent(node)
    if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value == "indices":
        return operand, parent
    if isinstance(parent, cst.Subscript) and parent.value is node and len(parent.slice) == 1 \
            and isinstance(parent.slice[0].slice, cst.Index) and isinstance(parent.slice[0].slice.value, cst.Integer) \
            and parent.slice[0].slice.value.value == "1":
        return operand, parent
    return None, None


def _relaxed_operand(model: FileModel, operand: cst.BaseExpression, depth: int = 0, via: Optional[list] = None) -> Optional[cst.Call]:
    """The relaxed sample `operand` holds, also when it is a parameter of a function of this
    file (`def to_index(onehot): return onehot.argmax(-1)`): then what its callers pass (the
    calls it came through are added to `via`)."""
    found = dists.relaxed_sample(model, operand)
    if found is not None or depth > 1 or not isinstance(operand, cst.Name):
        return found
    fn = model.enclosing_function(operand)
    if fn is None or operand.value not in fn.params or dists.bound_value(model, operand, fn) is not None:
        return None
    for call, _owner in model.flow.callers(fn)[:8]:
        arg = argument_for(fn, call, operand.value)
        if arg is not None:
            found = _relaxed_operand(model, arg, depth + 1, via)
            if found is not None:
                if via is not None:
                    via.append(call)
                return found
    return None


def _index_consumers(model: FileModel, call: cst.CSTNode, depth: int = 0):
    """The lookups that take the index as their index: the call or subscript the argmax (or the
    name it is assigned to, in the same function) is an argument or slice of
    (`tf.gather(values, idx)`, `table[idx]`). The walk stops at indices, so the loss is asked
    about the lookup itself. An index a helper returns is looked for at the helper's callers."""
    uses = [call]
    parent = model.parent(call)
    fn = model.enclosing_function(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
        stmt = model.enclosing_statement(call)
        uses = list(model.flow.later_uses(fn, parent.targets[0].target.value, stmt)) if fn is not None else []
    for use in uses[:8]:
        up = model.parent(use)
        if isinstance(up, cst.Return) and fn is not None and depth < 1:
            for caller, _owner in model.flow.callers(fn)[:8]:
                yield from _index_consumers(model, caller, depth + 1)
    for use in uses[:8]:
        child, up = use, model.parent(use)
        while isinstance(up, (cst.Arg, cst.Index, cst.SubscriptElement)):
            child, up = up, model.parent(up)
        if isinstance(up, cst.Call) and up.func is not child:
            yield up
        elif isinstance(up, cst.Subscript) and up.value is not child:
            yield up
