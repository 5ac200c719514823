from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, reach, site, uses_torch
from gradscan.semantics import intent
from gradscan.semantics.flow import Trace
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted


PICKED_MESSAGE = "the detached element of this result reaches the output and its live twin is dropped: use the live one"


class DetachInForward(GraphRule):
    code = "GS201"
    name = "detach-in-forward"
    summary = "`.detach()` of a value computed from the weights, on the way to forward's output or the loss: the weights before it get no gradient"
    message = "detached value reaches the output: the weights before it get no gradient; remove `.detach()`"
    explanation = (
        "`.detach()` cuts the graph: nothing that computed the detached value gets a gradient from the output, "
        "silently."
    )
    hint = "remove `.detach()`; detach only values used as targets, logs or caches"
    facts = ("pt05", "pt20")
    triggers = ("detach",)
    doc = """
    ## What it does
    Flags `.detach()` and `.detach_()` on a value computed from the module's weights (a
    submodule call such as `self.linear(x)`, a parameter such as `self.weight`, or a name
    assigned from one) inside a differentiable context (`forward`, the methods it calls,
    Lightning's `training_step`, a training loop), when the detached value reaches what
    forward returns or the value `.backward()` is called on.

    ## Why it breaks gradients
    `detach()` returns a tensor that shares storage but has no `grad_fn`: the backward pass
    stops there. Everything upstream of the cut (`self.linear` above) gets `grad is None` and
    never trains, while the layers after the cut still learn, so the loss still goes down and
    nothing errors or warns (fact pt05). `x.clone().detach()` and `x.detach().clone()` cut the
    same way (pt20).

    The rule stays silent on the intentional cuts: the straight-through estimator
    `x + (q - x).detach()`, a value combined with a live value of the same graph
    (`x / x.norm().detach()`, one side of a BYOL/SimSiam loss, `return out, feats.detach()`),
    targets (`loss(pred, target.detach())`, `target = r + gamma * q_next.detach()`), GAN
    discriminator steps `D(fake.detach())` (or a helper given the discriminator,
    `gradient_penalty(D, real, fake.detach())`), truncated BPTT `hidden = hidden.detach()`,
    teacher/EMA/momentum/target networks and networks the file freezes
    (`requires_grad_(False)`), leaves out of every optimizer it builds (only
    `Adam(model.head.parameters())`: a linear probe) or that are pretrained components
    (`vae`, `codec`), configured
    stop-gradients (`if self.stop_gradient: h = h.detach()`), values only logged, cached or
    written to buffers, values used after `.backward()` already ran on them or on a loss they
    went into (SAC's `-(log_alpha * logp.detach()).mean()` after the actor loss's backward:
    that graph is freed and its weights have their gradient), `if not self.training:`
    branches, and cuts of a forward's raw input or of a buffer (nothing upstream trains).

    ## Example
    ```python
    def forward(self, x):
        intermediate = self.linear(x)
        return self.head(intermediate.detach())
    ```

    ## Use instead
    ```python
    def forward(self, x):
        intermediate = self.linear(x)
        return self.head(intermediate)
    ```

    ## References
    - PyTorch docs: `Tensor.detach`
    - gradscan facts: pt05, pt20
    """
    invalid = (
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.l2 = nn.Linear(3, 1)

            def forward(self, x):
                h = self.l1(x).detach()  # error: GS201
                return self.l2(torch.relu(h))
        """,
        """
        import torch.nn as nn

        class Probe(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = nn.Linear(4, 4)

            def forward(self, x):
                intermediate = self.linear(x)
                return intermediate.detach()  # error: GS201
        """,
    )
    valid = (
        """
        import torch
        from torch import nn
        import torch.nn.functional as F

        class VQ(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(3, 3)
                self.codebook = nn.Embedding(8, 3)
                self.register_buffer("running", torch.zeros(3))

            def forward(self, x):
                z = self.enc(x)
                q = self.codebook(z.argmax(-1))
                commit = F.mse_loss(z, q.detach())
                self.running = z.detach().mean(0)
                print(z.detach().norm())
                return z + (q - z).detach(), commit
        """,
        """
        import torch.nn.functional as F

        def train_step(model, target_net, batch, opt, gamma=0.99):
            s, a, r, s2 = batch
            q = model(s).gather(1, a)
            target = r + gamma * target_net(s2).max(1).values.detach()
            loss = F.smooth_l1_loss(q, target)
            loss.backward()
            opt.step()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = model.sources.walk
        for call, fn in model.calls:
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value not in ("detach", "detach_") or call.args:
                continue
            receiver = func.value
            where = site(model, call)
            if where is None:
                continue
            fed = not src.is_live(receiver)
            if fed and not src.fed_from_weights(receiver, helpers_only=True):
                continue
            if self._rewrapped(model, call) or self._fixed_by_gs206(model, call) or self._after_backward(model, call, receiver):
                continue
            trace = self._trace(model, call, receiver, fn, where)
            if trace is None or intent.intentional_cut(model, call, receiver, trace):
                continue
            if fed and self._head_on_frozen_input(model, src, receiver, trace):
                continue
            if self._twin_evaluation(model, src, receiver, fn):
                continue
            picked = self._picked_from_pair(model, src, receiver, trace)
            if picked is False:
                continue
            yield picked if picked is not None else Report(func.attr)

    @staticmethod
    def _picked_from_pair(model: FileModel, src, receiver, trace: Trace):
        """A helper returns a live value beside the detached one (`return z_st, q.detach()`), and
        the caller takes the detached element on to the output: the helper is right, the
        caller's choice is the bug, so the finding goes to the caller's call. False when the
        caller also takes on a live element of the same weights (their gradient arrives that
        way), None when the cut is not returned beside a live value that the caller drops."""
        path = trace.path
        for i, node in enumerate(path[:-1]):
            if not isinstance(node, (cst.Tuple, cst.List)) or not isinstance(model.parent(node), cst.Return):
                continue
            call = path[i + 1]
            if not isinstance(call, cst.Call) or intent.contains(model, node, call):
                return None
            position = next((k for k, e in enumerate(node.elements) if any(p is e for p in path[:i])), None)
            if position is None:
                return None
            helper = model.enclosing_function(node)
            twins = [k for k, e in enumerate(node.elements) if k != position and src.is_live(e.value)]
            if helper is None or not twins:
                return None
            taken = [k for k in twins if model.flow.element_reaches(helper, k, call) is not False]
            if taken:
                same = any(src.shares_graph(node.elements[k].value, receiver) for k in taken)
                return False if same else None
            name = call.func.attr if isinstance(call.func, cst.Attribute) else call.func
            return Report(name, message=PICKED_MESSAGE)
        return None

    @staticmethod
    def _head_on_frozen_input(model: FileModel, src, receiver, trace) -> bool:
        """A helper cuts its input before a head with weights of its own (`self.head(x.detach())`),
        and every caller sends that input to the output another way too (OWLv2's objectness head
        on detached image features): the head trains, and so do the weights before the input."""
        downstream = any(isinstance(parent, cst.Call) and parent.func is not child and src.is_module_object(parent.func)
                         for child, parent in intent.trace_steps(model, trace.path))
        return downstream and src.inputs_reach_otherwise(receiver)

    @staticmethod
    def _twin_evaluation(model: FileModel, src, receiver, fn) -> bool:
        """`out1 = policy_1.act(obs)` detached beside `out2 = policy_2.act(obs)` kept live: the
        same computation run twice, one side frozen on purpose (the old policy of a KL or a
        ratio in TRPO and PPO, a teacher in distillation). The live side carries the gradient
        of the network that is meant to train."""
        if fn is None:
            return False
        weights = src.weight_roots(receiver)
        if len(weights) != 1:
            return False
        owner = next(iter(weights))[len("weight:"):]
        owner = owner[len("module:"):] if owner.startswith("module:") else owner
        code = model.module.code_for_node
        calls = [c for c in fn.calls if isinstance(c.func, cst.Attribute) and dotted(c.func.value)]
        for a in calls:
            if dotted(a.func.value) != owner:
                continue
            args = [code(x) for x in a.args]
            for b in calls:
                if b is a or b.func.attr.value != a.func.attr.value or dotted(b.func.value) == owner:
                    continue
                if [code(x) for x in b.args] == args and src.is_live(b):
                    return True
        return False

    def _trace(self, model: FileModel, call: cst.Call, receiver, fn, where) -> Optional[Trace]:
        stmt = model.parent(call)
        if call.func.attr.value == "detach_" and isinstance(stmt, cst.Expr) and isinstance(receiver, cst.Name):
            for use in model.flow.later_uses(fn, receiver.value, stmt):
                trace = reach(model, use, where)
                if trace is not None:
                    return Trace([call] + trace.path, trace.sink, trace.root)
            return None
        return reach(model, call, where)
