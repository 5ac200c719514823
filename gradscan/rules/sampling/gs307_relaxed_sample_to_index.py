from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.sampling.helpers import SamplingRule
from gradscan.semantics import distributions as dists
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
    lookup, a gather) and the sample itself reaches it no other way.

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
        for call, _fn in model.calls:
            operand = _argmax_operand(model, call)
            if operand is None:
                continue
            sample = dists.relaxed_sample(model, operand)
            if sample is None:
                continue
            frameworks = ("tensorflow",) if (model.callee(call) or "").startswith("tensorflow.") else ("torch",)
            if self._reaches_loss(model, call, frameworks) is None and not any(
                    self._reaches_loss(model, consumer, frameworks) is not None for consumer in _index_consumers(model, call)):
                continue
            script = model.context_of(sample) is None
            # The one-hot's own way to the loss (`onehot @ table`): then the logits train.
            if model.flow.reaches_output(sample, barrier=lambda n, c=call: n is c, module_level=script) is not None:
                continue
            yield Report(call, "argmax of a straight-through/relaxed sample: the index carries no gradient to its logits")


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


def _index_consumers(model: FileModel, call: cst.Call):
    """The lookups that take the index as their index: the call or subscript the argmax (or the
    name it is assigned to, in the same function) is an argument or slice of
    (`tf.gather(values, idx)`, `table[idx]`). The walk stops at indices, so the loss is asked
    about the lookup itself."""
    uses = [call]
    parent = model.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
        fn = model.enclosing_function(call)
        stmt = model.enclosing_statement(call)
        uses = list(model.flow.later_uses(fn, parent.targets[0].target.value, stmt)) if fn is not None else []
    for use in uses[:8]:
        child, up = use, model.parent(use)
        while isinstance(up, (cst.Arg, cst.Index, cst.SubscriptElement)):
            child, up = up, model.parent(up)
        if isinstance(up, cst.Call) and up.func is not child:
            yield up
        elif isinstance(up, cst.Subscript) and up.value is not child:
            yield up
