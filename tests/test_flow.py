"""Value flow (issue 3, section 4): does a value reach what a differentiable function returns, or
the value `.backward()` is called on? One small source per flow kind and per sink kind.

Each case names the expression to follow by its source text (the first occurrence on the
line marked `# <-`), and whether its value reaches the output.
"""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from gradscan.semantics.model import FileModel

HEADER = """\
import logging
import torch
import torch.nn as nn
import torch.nn.functional as F
import wandb

logger = logging.getLogger(__name__)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(3, 3)
        self.l2 = nn.Linear(3, 3)
        self.register_buffer("running", torch.zeros(3))

"""


def build(src: str) -> FileModel:
    text = textwrap.dedent(src)
    return FileModel.build(cst.parse_module(text), "example.py", text)


def find(model: FileModel, snippet: str) -> cst.CSTNode:
    """The first expression whose code is `snippet` on the line marked `# <-`."""
    lines = model.source.splitlines()
    marked = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("# <-")]
    assert len(marked) == 1, "mark exactly one line with `# <-`"
    positions = cst.metadata.MetadataWrapper(model.module, unsafe_skip_copy=True).resolve(cst.metadata.PositionProvider)
    for node in model.nodes:
        if isinstance(node, cst.BaseExpression) and positions[node].start.line == marked[0] and model.module.code_for_node(node) == snippet:
            return node
    raise AssertionError(f"{snippet!r} not found on line {marked[0]}")


def forward(body: str, extra: str = "") -> str:
    """The Net class with `body` as its forward and `extra` as more methods."""
    return HEADER + "    def forward(self, x):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8) + "\n\n" + textwrap.indent(textwrap.dedent(extra).strip("\n"), " " * 4) + "\n"


def reaches(src: str, snippet: str, **kw):
    model = build(src)
    return model.flow.reaches_output(find(model, snippet), **kw)


# ---- flow kinds ------------------------------------------------------------------------------

FLOWS = {
    "direct return": ("""
        h = self.l1(x)
        return h.detach()  # <-
        """, "h.detach()", True),
    "assignment chain": ("""
        h = self.l1(x).detach()  # <-
        y = h
        z = y
        return self.l2(z)
        """, "self.l1(x).detach()", True),
    "assignment then overwritten": ("""
        h = self.l1(x).detach()  # <-
        h = self.l1(x)
        return self.l2(h)
        """, "self.l1(x).detach()", False),
    "overwritten only in the other branch": ("""
        if x.dim() > 2:
            h = self.l1(x).detach()  # <-
        else:
            h = self.l2(x)
        return h
        """, "self.l1(x).detach()", True),
    "overwritten under a condition": ("""
        h = self.l1(x).detach()  # <-
        if x.dim() > 2:
            h = self.l2(x)
        return h
        """, "self.l1(x).detach()", True),
    "tuple unpacking, the matching name": ("""
        h = self.l1(x)
        a, b = h.detach(), x  # <-
        return self.l2(a)
        """, "h.detach()", True),
    "tuple unpacking, the other name": ("""
        h = self.l1(x)
        a, b = h.detach(), x  # <-
        return self.l2(b)
        """, "h.detach()", False),
    "unpacking a call result": ("""
        a, b = self.l1(x).detach().chunk(2, dim=-1)  # <-
        return b
        """, "self.l1(x).detach()", True),
    "augmented assignment": ("""
        out = self.l2(x)
        out += self.l1(x).detach()  # <-
        return out
        """, "self.l1(x).detach()", True),
    "augmented assignment target": ("""
        h = self.l1(x).detach()  # <-
        h = self.l2(h)
        h += x
        return h
        """, "self.l1(x).detach()", True),
    "binary operators": ("""
        h = self.l1(x)
        return self.l2(x) * h.detach() + 1  # <-
        """, "h.detach()", True),
    "unary minus": ("""
        h = self.l1(x)
        return -h.detach()  # <-
        """, "h.detach()", True),
    "comparison is a mask, not a value": ("""
        h = self.l1(x)
        return self.l2(x) * (h.detach() > 0)  # <-
        """, "h.detach()", False),
    "call taking the value": ("""
        h = self.l1(x)
        return F.relu(self.l2(h.detach()))  # <-
        """, "h.detach()", True),
    "torch.cat of a list": ("""
        h = self.l1(x)
        return torch.cat([x, h.detach()], dim=-1)  # <-
        """, "h.detach()", True),
    "method on the value": ("""
        h = self.l1(x)
        return h.detach().view(-1).softmax(0)  # <-
        """, "h.detach()", True),
    "attribute read": ("""
        h = self.l1(x)
        return h.detach().T  # <-
        """, "h.detach()", True),
    "metadata attribute": ("""
        h = self.l1(x)
        return x.new_zeros(h.detach().shape)  # <-
        """, "h.detach()", False),
    "subscript read": ("""
        h = self.l1(x)
        return h.detach()[:, 0]  # <-
        """, "h.detach()", True),
    "used as an index": ("""
        h = self.l1(x)
        return x[h.detach().long()]  # <-
        """, "h.detach()", False),
    "returned tuple": ("""
        h = self.l1(x)
        return self.l2(x), h.detach()  # <-
        """, "h.detach()", True),
    "returned dict": ("""
        h = self.l1(x)
        return {"out": h.detach()}  # <-
        """, "h.detach()", True),
    "list comprehension": ("""
        h = self.l1(x)
        return [v * 2 for v in h.detach()]  # <-
        """, "h.detach()", True),
    "comprehension element": ("""
        h = self.l1(x)
        return torch.stack([h.detach() * i for i in range(3)])  # <-
        """, "h.detach()", True),
    "list appended then returned": ("""
        outs = []
        outs.append(self.l1(x).detach())  # <-
        return torch.stack(outs)
        """, "self.l1(x).detach()", True),
    "walrus": ("""
        if (h := self.l1(x).detach()) is not None:  # <-
            return self.l2(h)
        return x
        """, "self.l1(x).detach()", True),
    "if-expression branch": ("""
        h = self.l1(x)
        return h.detach() if x.dim() > 1 else x  # <-
        """, "h.detach()", True),
    "if-expression test": ("""
        h = self.l1(x)
        return x if h.detach().sum() > 0 else -x  # <-
        """, "h.detach()", False),
    "for loop over the value": ("""
        h = self.l1(x)
        out = 0
        for row in h.detach():  # <-
            out = out + row
        return out
        """, "h.detach()", True),
}


@pytest.mark.parametrize("name", list(FLOWS))
def test_flow_kinds(name):
    body, snippet, expected = FLOWS[name]
    trace = reaches(forward(body), snippet)
    assert (trace is not None) == expected, name
    if trace is not None:
        assert trace.sink == "return"
        assert trace.root is not None and trace.root.name == "forward"


def test_helper_method_called_from_forward():
    src = forward("""
        return self.l2(self._encode(x))
        """, extra="""
        def _encode(self, x):
            return self.l1(x).detach()  # <-
        """)
    trace = reaches(src, "self.l1(x).detach()")
    assert trace is not None and trace.root.name == "forward"


def test_helper_returning_a_tuple_taints_only_its_position():
    extra = """
        def _encode(self, x):
            z = self.l1(x)
            return z.detach(), z  # <-
        """
    used = forward("""
        a, b = self._encode(x)
        return self.l2(a)
        """, extra=extra)
    unused = forward("""
        a, b = self._encode(x)
        return self.l2(b)
        """, extra=extra)
    indexed = forward("""
        return self.l2(self._encode(x)[1])
        """, extra=extra)
    assert reaches(used, "z.detach()") is not None
    assert reaches(unused, "z.detach()") is None
    assert reaches(indexed, "z.detach()") is None


def test_helper_not_called_from_a_root_does_not_reach():
    src = forward("""
        return self.l2(x)
        """, extra="""
        def features(self, x):
            return self.l1(x).detach()  # <-
        """)
    assert reaches(src, "self.l1(x).detach()") is None


def test_nested_function():
    src = forward("""
        def project(v):
            return self.l1(v).detach()  # <-
        return self.l2(project(x))
        """)
    assert reaches(src, "self.l1(v).detach()") is not None


def test_lambda():
    src = forward("""
        act = lambda v: self.l1(v).detach()  # <-
        return self.l2(act(x))
        """)
    assert reaches(src, "self.l1(v).detach()") is not None


def test_super_forward_caller():
    src = HEADER + textwrap.dedent("""
    class Child(Net):
        def forward(self, x):
            return self.l2(super().forward(x))


    class Base(nn.Module):
        def forward(self, x):
            return self.helper(x)

        def helper(self, x):
            return self.fc(x).detach()  # <-
    """)
    assert reaches(src, "self.fc(x).detach()") is not None


# ---- the loss sinks --------------------------------------------------------------------------

LOSSES = {
    "loss.backward()": """
        def train(model, x, y, opt):
            out = model(x).detach()  # <-
            loss = F.mse_loss(out, y)
            loss.backward()
        """,
    "scaled backward": """
        def train(model, x, y, scaler):
            loss = F.mse_loss(model(x).detach(), y)  # <-
            scaler.scale(loss / 4).backward()
        """,
    "torch.autograd.backward": """
        def train(model, x, y):
            loss = F.mse_loss(model(x).detach(), y)  # <-
            torch.autograd.backward(loss)
        """,
    "torch.autograd.grad": """
        def train(model, x, y):
            loss = F.mse_loss(model(x).detach(), y)  # <-
            return torch.autograd.grad(loss, model.parameters())
        """,
    "manual_backward": """
        class Lit(nn.Module):
            def training_step(self, batch, i):
                loss = F.mse_loss(self.net(batch).detach(), batch)  # <-
                self.manual_backward(loss)
        """,
    "accumulated loss": """
        def train(model, batches, opt):
            total = 0
            for x, y in batches:
                total = total + F.mse_loss(model(x).detach(), y)  # <-
            total.backward()
        """,
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_sinks(name):
    src = HEADER + textwrap.dedent(LOSSES[name])
    trace = reaches(src, "model(x).detach()" if "model(x)" in LOSSES[name] else "self.net(batch).detach()")
    assert trace is not None and trace.sink == "loss", name


def test_module_level_script_that_backpropagates_is_a_root():
    src = HEADER + textwrap.dedent("""
    model = Net()
    x, y = torch.randn(4, 3), torch.randn(4, 3)
    out = model(x).detach()  # <-
    loss = F.mse_loss(out, y)
    loss.backward()
    """)
    trace = reaches(src, "model(x).detach()")
    assert trace is not None and trace.sink == "loss"


def test_module_level_code_without_backward_needs_module_level():
    src = HEADER + textwrap.dedent("""
    model = Net()
    x = torch.randn(4, 3)
    out = model(x).detach()  # <-
    result = out
    """)
    assert reaches(src, "model(x).detach()") is None


def test_helper_called_from_a_main_block_is_followed_to_its_backward():
    src = HEADER + textwrap.dedent("""
    def compute_loss(model, x, y):
        out = model(x).detach()  # <-
        return F.mse_loss(out, y)

    if __name__ == "__main__":
        model = Net()
        loss = compute_loss(model, torch.randn(4, 3), torch.randn(4, 3))
        loss.backward()
    """)
    trace = reaches(src, "model(x).detach()")
    assert trace is not None and trace.sink == "loss"


def test_lightning_training_step_return():
    src = HEADER + textwrap.dedent("""
    class Lit(nn.Module):
        def training_step(self, batch, i):
            x, y = batch
            loss = F.mse_loss(self.l1(x).detach(), y)  # <-
            return {"loss": loss}
    """)
    trace = reaches(src, "self.l1(x).detach()")
    assert trace is not None and trace.root.name == "training_step"


# ---- the sinks that carry no gradient intent ---------------------------------------------------

SINKS = {
    "print": "print(h.detach())  # <-",
    "self.log": 'self.log("h", h.detach())  # <-',
    "logger": 'logger.info("h %s", h.detach())  # <-',
    "wandb": 'wandb.log({"h": h.detach()})  # <-',
    "writer": 'self.writer.add_scalar("h", h.detach(), 0)  # <-',
    "progress bar": "self.pbar.set_postfix(h=h.detach())  # <-",
    ".item()": "v = h.detach().sum().item()  # <-\nout = out * v",
    ".cpu()": "v = h.detach().cpu()  # <-\nout = out + v",
    "self state": "self.last_hidden = h.detach()  # <-",
    "buffer copy_": "self.running.copy_(h.detach().mean(0))  # <-",
    "buffer fill_": "self.running.fill_(h.detach().mean())  # <-",
    "buffer EMA": "self.running.mul_(0.9).add_(h.detach().mean(0), alpha=0.1)  # <-",
    "register_buffer": 'self.register_buffer("snapshot", h.detach())  # <-',
    "cache dict": 'cache = {}\ncache["h"] = h.detach()  # <-',
    "cache list": "cached = []\ncached.append(h.detach())  # <-",
    "log-named dict": 'logging_output = {"h": h.detach()}  # <-',
    "log key in the returned dict": 'return {"out": out, "log": {"h": h.detach()}}  # <-',
    "metrics dict": 'metrics = {"norm": h.detach().norm()}  # <-',
    "f-string": 'msg = f"{h.detach()}"  # <-',
    "assert": "assert h.detach().isfinite().all()  # <-",
    "shape": "n = h.detach().shape[0]  # <-\nout = out[:n]",
    "size": "n = h.detach().size(0)  # <-\nout = out.view(n, -1)",
}


@pytest.mark.parametrize("name", list(SINKS))
def test_sinks_stop_the_flow(name):
    body = "h = self.l1(x)\nout = self.l2(x)\n" + SINKS[name] + ("\nreturn out" if "return" not in SINKS[name] else "")
    src = forward(body)
    assert reaches(src, "h.detach()") is None, name


REWRAPPED = {
    ".tolist() then torch.tensor": "v = h.detach().tolist()  # <-\nout = out + torch.tensor(v)",
    ".numpy() then torch.from_numpy": "v = h.detach().numpy()  # <-\nout = out + torch.from_numpy(v)",
    ".cpu().numpy(), NumPy, then torch.as_tensor": "v = h.detach().cpu().numpy()  # <-\nv = np.clip(v, 0, 1)\nout = out * torch.as_tensor(v)",
}


@pytest.mark.parametrize("name", list(REWRAPPED))
def test_a_conversion_wrapped_again_later_is_followed(name):
    """`.numpy()` then `torch.from_numpy(...)` lines later: the value reaches the output as data
    (l1 gets no gradient through it), so the walk follows it and says where it was converted."""
    body = "h = self.l1(x)\nout = self.l2(x)\n" + REWRAPPED[name] + "\nreturn out"
    trace = reaches("import numpy as np\n" + forward(body), "h.detach()")
    assert trace is not None and trace.converted is not None, name


def test_returned_loss_with_a_logging_dict():
    src = HEADER + textwrap.dedent("""
    class Criterion(nn.Module):
        def forward(self, model, sample):
            net_output = model(sample)
            loss = F.cross_entropy(net_output, sample)
            sample_size = sample.size(0)
            logging_output = {"loss": loss.data, "nll": net_output.detach()}  # <-
            return loss, sample_size, logging_output
    """)
    assert reaches(src, "net_output.detach()") is None


def test_backward_then_reporting_does_not_reach_the_loss():
    src = HEADER + textwrap.dedent("""
    def train(model, x, y, opt):
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()  # <-
    """)
    # train is a "loss" context whose return value is not an output
    assert reaches(src, "loss.detach()") is None


def test_trace_path_starts_at_the_node_and_records_the_root():
    src = forward("""
        h = self.l1(x).detach()  # <-
        return self.l2(h)
        """)
    model = build(src)
    node = find(model, "self.l1(x).detach()")
    trace = model.flow.reaches_output(node)
    assert trace.path[0] is node
    assert trace.sink == "return" and trace.root.name == "forward"
    assert isinstance(trace.path[-1], cst.Call)


def test_a_question_past_its_budget_is_unknown_and_counted(monkeypatch):
    from gradscan.semantics.flow import Flow

    chain = "\n".join(f"v{i + 1} = v{i} * 2" for i in range(60))
    src = forward(f"v0 = self.l1(x).detach()  # <-\n{chain}\nreturn v60")
    model = build(src)
    assert model.flow.reaches_output(find(model, "self.l1(x).detach()")) is not None
    assert model.flow.incomplete == 0
    monkeypatch.setattr(Flow, "QUERY_BUDGET", 10)
    model = build(src)
    assert model.flow.reaches_output(find(model, "self.l1(x).detach()")) is None
    assert model.flow.incomplete == 1


@pytest.mark.parametrize("body, expected", [
    # read at the top of the next iteration, collected, returned
    ("""
        outs = []
        for _ in range(3):
            outs.append(self.l2(h))
            h = self.l1(x).detach()  # <-
        return torch.stack(outs)
        """, True),
    ("""
        while len(outs) < 3:
            outs.append(self.l2(h))
            h = self.l1(x).detach()  # <-
        return torch.stack(outs)
        """, True),
    # overwritten at the top of every iteration before the read
    ("""
        outs = []
        for _ in range(3):
            h = x
            outs.append(self.l2(h))
            h = self.l1(x).detach()  # <-
        return torch.stack(outs)
        """, False),
    # the loop's own target is rebound on every iteration
    ("""
        outs = []
        for h in [x, x]:
            outs.append(self.l2(h))
            h = self.l1(x).detach()  # <-
        return torch.stack(outs)
        """, False),
])
def test_loop_carried_value_reaches_the_next_iteration(body, expected):
    trace = reaches(forward(body), "self.l1(x).detach()")
    assert (trace is not None) == expected


def test_callers_of_a_root_through_objects_and_names():
    model = build("""\
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l = nn.Linear(2, 2)

            def forward(self, x):
                return self.l(x)

        net = Net()

        def run(x):
            return net(x)

        def unrelated(x):
            return x
        """)
    forward = next(f for f in model.functions if f.name == "forward")
    found = [(model.module.code_for_node(c), o.name if o else None) for c, o in model.flow.callers(forward)]
    assert found == [("net(x)", "run")]
    unrelated = next(f for f in model.functions if f.name == "unrelated")
    assert model.flow.callers(unrelated) == []
