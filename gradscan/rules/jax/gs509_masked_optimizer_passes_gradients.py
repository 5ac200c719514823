from __future__ import annotations

from typing import Iterator, List

import libcst as cst

from gradscan.frameworks import jax as jax_api, names as api_names
from gradscan.rules.base import Report, Rule
from gradscan.rules.jax.helpers import uses_jax
from gradscan.semantics.arguments import positional_argument
from gradscan.semantics.model import FileModel

# The optax tables (fact jx52).
OPTIMIZERS = api_names(jax_api.OPTIMIZERS)
MASKED = api_names(jax_api.MASKED)
CHAINS = api_names(jax_api.CHAINS)
# A chain element that takes care of the leaves the mask leaves out.
COMPLEMENTS = api_names(jax_api.COMPLEMENTS)


class MaskedOptimizerPassesGradients(Rule):
    code = "GS509"
    name = "masked-optimizer-passes-gradients"
    framework = "jax"
    summary = "`optax.masked(optax.adam(...), mask)` as the whole optimizer: the leaves outside the mask get their raw gradient as update and are pushed uphill"
    message = "optax.masked passes the other leaves' raw gradients through: apply_updates adds them"
    explanation = (
        "optax.masked(inner, mask) applies `inner` to the leaves the mask selects and returns the other leaves' "
        "updates unchanged: with an optimizer inside and nothing else in the chain, the leaves meant to stay frozen "
        "get `params + grad` on every step, gradient ascent with learning rate 1, silently."
    )
    hint = "freeze with `optax.chain(opt, optax.masked(optax.set_to_zero(), frozen))` or `optax.multi_transform`"
    facts = ("jx52",)
    triggers = ("masked",)
    doc = """
    ## What it does
    Flags `optax.masked(<an optax optimizer>, mask)` (`adam`, `adamw`, `sgd`, `rmsprop`, ...)
    used as the whole gradient transformation: returned, assigned and handed to
    `TrainState.create(tx=...)` / `nnx.Optimizer` / `.init`, or chained only with transforms that
    leave the other leaves alone (`clip_by_global_norm`). Not when the same chain also handles
    the leaves outside the mask (another `optax.masked`, `optax.set_to_zero()`, another
    optimizer, `multi_transform`).

    ## Why it breaks gradients
    `optax.masked` runs its inner transformation on the selected leaves only and passes the
    others' updates through unchanged (fact jx52). Fed raw gradients, those leaves come out as
    the gradient itself, and `optax.apply_updates` adds it: the "frozen" part moves by `+grad` on
    every step, uphill with learning rate 1. The intended freeze (`optax.masked` meant as "train
    only these") never happens and the frozen weights are corrupted, silently.

    Not flagged: `optax.masked` around a transformation that is not an optimizer
    (`add_decayed_weights`, `set_to_zero`, `clip`), the optimizers' own `mask=` arguments
    (`optax.adamw(..., mask=...)`), and chains that also cover the complement.

    ## Example
    ```python
    tx = optax.masked(optax.adam(1e-3), head_mask)
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
    ```

    ## Use instead
    ```python
    tx = optax.chain(optax.adam(1e-3), optax.masked(optax.set_to_zero(), backbone_mask))
    # or: optax.multi_transform({"train": optax.adam(1e-3), "frozen": optax.set_to_zero()}, labels)
    ```

    ## References
    - google-deepmind/optax#159 ("What does optax.masked do?": the unmasked leaves are the identity)
    - google-deepmind/optax#296 (freezing parameters: `masked(set_to_zero())` or `multi_transform`)
    - gradscan facts: jx52
    """
    invalid = (
        """
        import optax

        def make_tx(mask):
            return optax.masked(optax.adam(1e-3), mask)  # error: GS509
        """,
    )
    valid = (
        """
        import optax

        def make_tx(mask, frozen):
            decay = optax.masked(optax.add_decayed_weights(1e-4), mask)
            return optax.chain(decay, optax.adam(1e-3), optax.masked(optax.set_to_zero(), frozen))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model) and not model.imports.uses("optax"):
            return
        chains = [c for c, _ in model.calls if model.callee(c) in CHAINS]
        for call, owner in model.calls:
            if model.callee(call) not in MASKED:
                continue
            inner = positional_argument(call, 0)
            if not (isinstance(inner, cst.Call) and model.callee(inner) in OPTIMIZERS):
                continue
            if self._complemented(model, call, owner, chains):
                continue
            yield Report(call)

    @staticmethod
    def _complemented(model: FileModel, call: cst.Call, owner, chains: List[cst.Call]) -> bool:
        """The masked optimizer sits in a chain that also handles the other leaves, directly or
        through the name it is bound to."""
        held: List[cst.BaseExpression] = [call]
        parent = model.parent(call)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            held.append(parent.targets[0].target)
        for chain in chains:
            elements = [a.value for a in chain.args if a.keyword is None]
            mine = [e for e in elements if e is call or (isinstance(e, cst.Name) and any(
                isinstance(h, cst.Name) and h.value == e.value for h in held))]
            if not mine:
                continue
            others = [e for e in elements if e not in mine]
            if any(_complement(model, e, owner) for e in others):
                return True
        return False


def _complement(model: FileModel, expr: cst.BaseExpression, owner) -> bool:
    if isinstance(expr, cst.Name):
        value = model.single_value(owner, expr.value) if owner is not None else None
        if value is None:
            return True  # unknown: another transform may cover the rest
        expr = value
    return isinstance(expr, cst.Call) and model.callee(expr) in COMPLEMENTS
