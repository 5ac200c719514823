from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import functions_within, init_methods
from gradscan.rules.training_loop.helpers import fresh_weights, is_optimizer, managed_by_class, method_name, order, param_owners, predicts
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted


class OptimizerDuplicatesOtherNetwork(Rule):
    code = "GS612"
    name = "optimizer-duplicates-other-network"
    framework = "torch"
    summary = "two optimizers of a class built over the same network while a sibling network the loss trains is in none: it never changes"
    message = "`{opt}` takes `{owner}` like `{other}`: `{missing}`, trained, is in no optimizer"
    explanation = (
        "An optimizer steps the parameters it was built with. Two optimizers over one network (a copy-paste slip: "
        "`actor_opt = Adam(critic.parameters())`) leave the network meant for the first in no optimizer: its loss "
        "fills its .grad, the step moves the other network."
    )
    hint = "build each optimizer over the parameters of the network whose loss it steps"
    facts = ("pt49",)
    triggers = ("parameters(",)
    doc = """
    ## What it does
    Flags, in a class (an agent, a GAN trainer, a torch module), one of two optimizers built
    over the parameters of the same attribute (`self.critic.parameters()` twice) when a
    sibling attribute that the class creates with new weights (`self.actor = nn.Sequential(...)`)
    is in no optimizer, is not frozen, copied into or read for an average, and its output
    reaches a loss the class backpropagates. The finding is on the optimizer stepped after that
    loss's backward pass (or the later of the two).

    ## Why it breaks gradients
    `actor_opt = Adam(self.critic.parameters())` is one word away from right, and nothing
    fails: the actor's loss fills the actor's `.grad` on every update, `actor_opt.step()`
    moves the critic a second time, and the actor keeps its random initialisation (fact pt49).

    Not flagged: one optimizer per network, a second optimizer over the same network with no
    network left out (two phases, SWA, a test of several optimizers), a sibling that is frozen,
    a target network synced by `load_state_dict` or averaged, one given to `__init__` or loaded,
    and one whose output is only detached or used as a target.

    ## Example
    ```python
    self.actor_opt = optim.Adam(self.critic.parameters(), lr=1e-3)
    self.critic_opt = optim.Adam(self.critic.parameters(), lr=1e-3)
    ```

    ## Use instead
    ```python
    self.actor_opt = optim.Adam(self.actor.parameters(), lr=1e-3)
    self.critic_opt = optim.Adam(self.critic.parameters(), lr=1e-3)
    ```

    ## References
    - PyTorch docs: `torch.optim` ("Constructing it")
    - gradscan facts: pt49
    """
    invalid = (
        """
        import torch
        from torch import nn

        class GanTrainer:
            def __init__(self):
                self.gen = nn.Linear(2, 4)
                self.disc = nn.Linear(4, 1)
                self.opt_g = torch.optim.Adam(self.disc.parameters())  # error: GS612
                self.opt_d = torch.optim.Adam(self.disc.parameters())

            def train_step(self, z, real):
                self.opt_d.zero_grad()
                d_loss = self.disc(self.gen(z).detach()).mean() - self.disc(real).mean()
                d_loss.backward()
                self.opt_d.step()
                self.opt_g.zero_grad()
                g_loss = -self.disc(self.gen(z)).mean()
                g_loss.backward()
                self.opt_g.step()
        """,
    )
    valid = (
        """
        import copy
        import torch
        from torch import nn

        class Agent:
            def __init__(self):
                self.q = nn.Linear(4, 2)
                self.q_target = copy.deepcopy(self.q)
                self.opt = torch.optim.Adam(self.q.parameters())
                self.warmup_opt = torch.optim.SGD(self.q.parameters(), lr=0.1)

            def update(self, s, a, r, s2):
                with torch.no_grad():
                    target = r + self.q_target(s2).max(1).values
                loss = ((self.q(s).gather(1, a) - target) ** 2).mean()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                self.q_target.load_state_dict(self.q.state_dict())
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if "parameters(" not in (model.source or ""):
            return
        for cls in model.class_list:
            found = self._check_class(model, cls)
            if found is not None:
                yield found

    def _check_class(self, model: FileModel, cls) -> Optional[Report]:
        methods = [fn for c in model.class_chain(cls) for fn in c.methods.values()]
        by_owner: Dict[str, List[Tuple[cst.Call, str]]] = {}
        covered: List[str] = []
        for fn in methods:
            for inner in functions_within(model, fn):
                for call in inner.calls:
                    if not is_optimizer(model, call):
                        continue
                    owners = param_owners(model, call, inner)
                    if not owners:
                        return None  # an optimizer over parameters we cannot read
                    covered += owners
                    target = _assigned_to(model, call)
                    if len(owners) == 1 and target is not None and target.startswith("self."):
                        by_owner.setdefault(next(iter(owners)), []).append((call, target))
        if any(o == "self" or not o.startswith("self.") for o in covered):
            return None
        duplicated = {o: opts for o, opts in by_owner.items() if len({t for _, t in opts}) >= 2}
        if not duplicated:
            return None
        inits = init_methods(model, cls)
        created: Dict[str, List] = {}
        for c in model.class_chain(cls):
            for attr, value, _node, method in c.self_assigns:
                if c.methods.get(method) in inits:
                    created.setdefault("self." + attr, []).append(value)
        for name, values in created.items():
            if not all(fresh_weights(model, v) for v in values):
                continue
            if any(name == o or o.startswith(name + ".") or name.startswith(o + ".") for o in covered):
                continue
            if managed_by_class(model, methods, name):
                continue
            trained_at = _trained_call(model, methods, name)
            if trained_at is None:
                continue
            owner, opts = next(iter(duplicated.items()))
            call, target = _stepped_after(model, trained_at, opts) or opts[-1]
            other = next(t for _, t in opts if t != target)
            return Report(call, message=self.message.format(opt=clip(target, 20), owner=clip(owner, 18),
                                                           other=clip(other, 20), missing=clip(name, 18)))
        return None


def _assigned_to(model: FileModel, call: cst.Call) -> Optional[str]:
    parent = model.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return dotted(parent.targets[0].target)
    return None


def _trained_call(model: FileModel, methods, name: str) -> Optional[cst.Call]:
    """A call of `self.x(...)` in differentiable code whose value reaches a loss with its graph."""
    for fn in methods:
        for inner in functions_within(model, fn):
            for call in inner.calls:
                if dotted(call.func) == name and model.context_of(call) is not None and predicts(model, call):
                    return call
    return None


def _stepped_after(model: FileModel, trained: cst.Call, opts) -> Optional[Tuple[cst.Call, str]]:
    """The optimizer, of `opts`, whose `step()` comes first after `trained` in its function."""
    fn = model.enclosing_function(trained)
    if fn is None:
        return None
    best = None
    for call in fn.calls:
        if method_name(call) != "step" or not isinstance(call.func, cst.Attribute):
            continue
        receiver = dotted(call.func.value)
        for opt_call, target in opts:
            if receiver == target and order(model, trained, call) == -1:
                if best is None or order(model, call, best[0]) == -1:
                    best = (call, (opt_call, target))
    return best[1] if best is not None else None
