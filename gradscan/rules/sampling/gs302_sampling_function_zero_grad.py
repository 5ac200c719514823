from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.frameworks import torch as torch_api
from gradscan.rules.base import Report
from gradscan.rules.sampling.helpers import SamplingRule, node_text
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.model import FileModel

_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.MatrixMultiply, cst.Power)


def _atom(expr: cst.BaseExpression, additive: bool = False) -> cst.BaseExpression:
    """`expr`, parenthesized unless it binds tighter than `*` already (`additive`: than `+`, as
    the left operand of `+` can be `a - b` or `a * b` as it is)."""
    if isinstance(expr, (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float)) or expr.lpar:
        return expr
    if additive and (isinstance(expr, cst.UnaryOperation)
                     or (isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, _ARITHMETIC))):
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def code_of(model: FileModel, node: cst.CSTNode) -> str:
    return model.module.code_for_node(node)


# name -> its last part (the torch table, facts pt10 and pt35)
TORCH_SAMPLING_FUNCTIONS = {api.name: api.name.rsplit(".", 1)[1] for api in torch_api.SAMPLING_FUNCTIONS}


class SamplingFunctionZeroGrad(SamplingRule):
    code = "GS302"
    name = "sampling-function-zero-grad"
    framework = "torch"
    summary = "`torch.normal`/`torch.bernoulli`/`torch.multinomial` of graph tensors give their parameters zero or no gradient"
    message = "this torch sampling function gives its parameters a zero gradient"
    explanation = (
        "torch.normal, torch.bernoulli, torch.poisson and torch.multinomial are not reparameterized: the "
        "gradient to their mean, std or probabilities is silently zero or absent."
    )
    hint = "write `mean + std * torch.randn_like(std)` (or `Normal(mean, std).rsample()`); for discrete samples use a relaxed distribution or `log_prob`"
    fix_safety = "unsafe"  # the reparameterized draw changes the random stream
    facts = ("pt10", "pt35", "tf44")
    triggers = ("normal(", "bernoulli(", "poisson(", "multinomial(")
    doc = """
    ## What it does
    Flags `torch.normal(mean, std)` (also with a float `std`) whose mean or std comes from the
    graph, and `torch.bernoulli`, `torch.poisson`, `torch.multinomial` (and the
    `probs.multinomial(n)` / `probs.bernoulli()` methods) of graph probabilities, inside a
    differentiable function, when the result reaches the output or the loss.

    ## Why it breaks gradients
    `torch.normal(mean_t, std_t)` has a `grad_fn` (`NormalBackward3`), so nothing complains, but
    the gradients it gives `mean` and `std` are all zeros (fact pt10): it is not the
    reparameterization trick. `torch.bernoulli(p)` likewise gives `p` zero gradient, and
    `torch.multinomial` returns integer indices with no gradient at all (fact pt35). The
    layers producing these parameters silently stop learning from this path.

    Framework differences, stated plainly: TensorFlow's `tf.random.normal(shape, mean=m, stddev=s)`
    and `keras.random.normal(shape, mean=m, stddev=s)` *are* differentiable in `mean` and
    `stddev` (fact tf44) and are not flagged.

    Not flagged: `mean + std * torch.randn_like(std)`; noise with constant parameters
    (`torch.normal(0, 1, size)`, dropout-style masks `torch.bernoulli(torch.full_like(x, p))`);
    sampled token ids used as indices (generation, scheduled sampling); straight-through
    estimators (`b + p - p.detach()`); samples only scored through `log_prob`; sampling in
    generation, evaluation and rollout code.

    ## Example
    ```python
    def forward(self, x):
        mu, log_sigma = self.enc(x).chunk(2, -1)
        z = torch.normal(mu, log_sigma.exp())
        return self.dec(z)
    ```

    ## Use instead
    ```python
    def forward(self, x):
        mu, log_sigma = self.enc(x).chunk(2, -1)
        z = mu + log_sigma.exp() * torch.randn_like(mu)
        return self.dec(z)
    ```

    ## References
    - PyTorch docs: `torch.normal`, `torch.bernoulli`, `torch.multinomial`
    - gradscan facts: pt10 (torch.normal zero gradients), pt35 (bernoulli, multinomial), tf44 (TensorFlow's differentiable random.normal)
    """
    invalid = (
        """
        import torch
        from torch import nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 4)
                self.dec = nn.Linear(2, 4)

            def forward(self, x):
                mu, log_sigma = self.enc(x).chunk(2, -1)
                z = torch.normal(mu, log_sigma.exp())  # error: GS302
                gate = torch.bernoulli(torch.sigmoid(mu))  # error: GS302
                return self.dec(z * gate)
        """,
    )
    valid = (
        """
        import torch
        import tensorflow as tf
        from torch import nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 4)
                self.dec = nn.Linear(2, 4)

            def forward(self, x):
                mu, log_sigma = self.enc(x).chunk(2, -1)
                z = mu + log_sigma.exp() * torch.randn_like(mu)
                noise = torch.normal(0.0, 1.0, size=z.shape)
                mask = torch.bernoulli(torch.full_like(z, 0.9))
                return self.dec(z * mask + 0.01 * noise)

        class Enc(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.d = tf.keras.layers.Dense(2)

            def call(self, x):
                return tf.random.normal(tf.shape(x), mean=self.d(x), stddev=1.0)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, _fn in model.calls:
            kind = TORCH_SAMPLING_FUNCTIONS.get(model.callee(call) or "")
            params = []
            if kind is not None:
                params = self._params(call, kind)
            elif isinstance(call.func, cst.Attribute) and call.func.attr.value in ("multinomial", "bernoulli") and model.callee(call) is None:
                kind = call.func.attr.value
                if kind == "bernoulli" and call.args:
                    continue  # x.bernoulli(p): p is the probability, x only gives the shape
                params = [call.func.value]
            else:
                continue
            graph = [p for p in params if model.sources.from_graph(p)]
            if not graph:
                continue
            if self._reaches_loss(model, call, ("torch",), index_valued=kind == "multinomial", discrete=kind != "normal") is None:
                continue
            yield Report(call, self._message(model, kind, graph[0]), fix=self._fix(model, call) if kind == "normal" else None)

    @staticmethod
    def _fix(model: FileModel, call: cst.Call):
        """`torch.normal(mu, std)` -> `mu + std * torch.randn_like(std)`: the reparameterized draw.
        Only the two-argument form (no size, generator or out)."""
        params = {}
        for i, arg in enumerate(call.args):
            if arg.star:
                return None
            name = arg.keyword.value if arg.keyword is not None else ("mean", "std")[i] if i < 2 else None
            if name not in ("mean", "std") or name in params:
                return None
            params[name] = arg.value
        if set(params) != {"mean", "std"} or isinstance(params["mean"], (cst.Integer, cst.Float)):
            return None  # torch.normal(0.0, std, size=...) has another meaning; a float mean has no shape
        if isinstance(call.func, cst.Attribute):
            torch = code_of(model, call.func.value)
        else:
            torch = next((local for local, full in model.imports.aliases.items() if full == "torch"), None)
        if torch is None:
            return None
        mean = code_of(model, _atom(params["mean"], additive=True))
        std, bare_std = code_of(model, _atom(params["std"])), code_of(model, params["std"])
        text = f"{mean} + {std} * {torch}.randn_like({bare_std})"
        parent = model.parent(call)
        if not isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Arg, cst.Return, cst.Element, cst.Expr)):
            text = f"({text})"  # `torch.normal(m, s).sum()`, `2 * torch.normal(m, s)`
        return (call, text, "Reparameterize: mean + std * torch.randn_like(std) (changes the random stream)")

    @staticmethod
    def _params(call: cst.Call, kind: str):
        names = {"normal": ("mean", "std"), "bernoulli": ("input",), "poisson": ("input",), "multinomial": ("input",)}[kind]
        if kind == "bernoulli":
            # torch.bernoulli(input, p): with `p` given, `input` only gives the shape
            p = find_argument(call, 1, "p")
            if p is not None:
                return [p]
        found = (find_argument(call, i, n) for i, n in enumerate(names))
        return [value for value in found if value is not None]

    @staticmethod
    def _message(model: FileModel, kind: str, param: cst.CSTNode) -> str:
        text = node_text(model, param, 24)
        if kind == "normal":
            return f"`torch.normal` gives `{text}` a zero gradient; write `mean + std * torch.randn_like(std)`"
        if kind == "multinomial":
            return f"`multinomial` indices give `{text}` no gradient; use a relaxed sample or `log_prob`"
        return f"`torch.{kind}` gives `{text}` a zero gradient; use a relaxed sample or `log_prob`"
