from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics.model import FileModel


class RequireGradTypo(Rule):
    code = "GS107"
    name = "require-grad-typo"
    framework = "torch"
    summary = "`.require_grad = ...` is a typo for `requires_grad`: the freeze never happens"
    message = "`require_grad` is a typo and changes nothing; write `requires_grad`"
    explanation = "Setting `require_grad` creates a new attribute; the tensor's requires_grad flag stays as it was."
    hint = "write `requires_grad`"
    fix_safety = "safe"
    facts = ()
    triggers = ("require_grad",)
    doc = """
    ## What it does
    Flags assignments to an attribute named `require_grad` (without the `s`).

    ## Why it breaks gradients
    Tensors and parameters accept arbitrary new attributes, so `p.require_grad = False` raises
    nothing: it stores a new, meaningless attribute. `p.requires_grad` stays True and the layer
    you meant to freeze keeps training (or the one you meant to unfreeze stays frozen). Proved
    by the project's oracle test for GS107.

    ## Example
    ```python
    for p in model.encoder.parameters():
        p.require_grad = False
    ```

    ## Use instead
    ```python
    for p in model.encoder.parameters():
        p.requires_grad = False
    ```

    ## References
    - TorchFix TOR002 (the same check, before TorchFix was archived)
    - PyTorch docs: `Tensor.requires_grad`
    """
    invalid = (
        """
        def freeze(model):
            for p in model.parameters():
                p.require_grad = False  # error: GS107
        """,
    )
    valid = (
        """
        def freeze(model):
            for p in model.parameters():
                p.requires_grad = False
            flags = {"require_grad": False}
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for node, _fn in model.assignments:
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                if isinstance(target, cst.Attribute) and target.attr.value == "require_grad":
                    yield Report(target.attr, fix=(target.attr, "requires_grad", "Replace `require_grad` with `requires_grad`"))
