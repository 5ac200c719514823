"""gradscan/semantics/intent.py: where values come from (`Sources`), and the intentional
look-alikes of a graph cut (`intentional_cut`), on small sources, framework by framework."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from gradscan.semantics import intent
from gradscan.semantics.model import FileModel

HEADER = """\
import copy
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, backbone, config):
        super().__init__()
        self.enc = nn.Linear(4, 4)
        self.dec = nn.Linear(4, 4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.conv = make_conv2d(4, 4)
        self.act = nn.GELU()
        self.drop = nn.Dropout(0.1)
        self.weight = nn.Parameter(torch.ones(4))
        self.register_buffer("running", torch.zeros(4))
        self.table = nn.Buffer(torch.zeros(4))
        self.backbone = backbone
        self.teacher = copy.deepcopy(self.enc)
        self.target_net = nn.Linear(4, 4)
        self.frozen_part = nn.Linear(4, 4)
        self.frozen_part.requires_grad_(False)
        self.stop_gradient = config.stop_gradient
        self.scale = config.scale

"""


def build(body: str, extra: str = "") -> FileModel:
    src = HEADER + "    def forward(self, x):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8) + "\n" + textwrap.dedent(extra)
    return FileModel.build(cst.parse_module(src), "example.py", src)


def node(model: FileModel, code: str, last: bool = False) -> cst.CSTNode:
    found = [n for n in model.nodes if isinstance(n, cst.BaseExpression) and model.module.code_for_node(n) == code]
    assert found, code
    return found[-1] if last else found[0]


# ---- Sources: is the value computed from weights in its function? -------------------------------

LIVE = [
    ("h = self.enc(x)\nreturn h", "h", True),
    ("return self.blocks[0](x)", "self.blocks[0](x)", True),
    ("for block in self.blocks:\n    x = block(x)\nreturn x", "x", True),
    ("return self.conv(x)", "self.conv(x)", True),  # a layer factory's module
    ("return x * self.weight", "x * self.weight", True),  # a parameter read
    ("return F.linear(x, self.enc.weight)", "F.linear(x, self.enc.weight)", True),
    ("return self.backbone(x)", "self.backbone(x)", True),  # `self.backbone = backbone`
    ("return super().forward(x)", "super().forward(x)", True),
    ("h = self.enc(x).view(-1).softmax(0)\nreturn h", "h", True),
    ("return self.act(x)", "self.act(x)", False),  # weightless layer on the raw input
    ("return self.drop(x)", "self.drop(x)", False),
    ("return x * self.running", "x * self.running", False),  # a buffer
    ("return x * self.table", "x * self.table", False),  # nn.Buffer
    ("return x * self.scale", "x * self.scale", False),  # configuration
    ("return x.mean()", "x.mean()", False),  # the raw input
    ("h = self.enc(x)\nn = h.size(0)\nreturn n", "n", False),  # metadata
    ("h = self.enc(x)\nh = h > 0\nreturn h", "h", False),  # the later store kills the live one
    ("h = self.enc(x).argmax(-1)\nreturn h", "h", False),
]


@pytest.mark.parametrize("body,expr,live", LIVE, ids=[b.splitlines()[0] for b, _, _ in LIVE])
def test_liveness(body, expr, live):
    model = build(body)
    assert model.sources.walk.is_live(node(model, expr, last=True)) is live


def test_helper_methods_and_module_level_scripts():
    model = build("return self._encode(x)", extra="""
    def _encode(self, x):
        return self.enc(x)


model = nn.Sequential(nn.Linear(4, 4))
compute_embeddings = None
out = model(torch.ones(4))
""")
    src = model.sources.walk
    assert src.is_live(node(model, "self._encode(x)"))
    assert src.is_live(node(model, "model(torch.ones(4))"))


def test_keras_layers_and_weights():
    src = textwrap.dedent("""
    import tensorflow as tf
    from tensorflow import keras

    class L(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.w = self.add_weight(shape=(4,))

        def call(self, x):
            return tf.stop_gradient(self.dense(x)) + x * self.w
    """)
    model = FileModel.build(cst.parse_module(src), "k.py", src)
    s = model.sources.walk
    assert s.is_live(node(model, "self.dense(x)"))
    assert s.is_live(node(model, "x * self.w"))


def test_frozen_names():
    model = build("return x", extra="""
def freeze_all(model):
    for p in model.encoder.parameters():
        p.requires_grad = False
""")
    assert {"frozen_part", "encoder"} <= model.sources.walk.frozen_names()


# ---- the intentional patterns ---------------------------------------------------------------------

def reason(body: str, cut_code: str, extra: str = ""):
    model = build(body, extra)
    cut = node(model, cut_code)
    receiver = cut.func.value if isinstance(cut, cst.Call) and isinstance(cut.func, cst.Attribute) else cut
    trace = model.flow.reaches_output(cut, module_level=True)
    assert trace is not None, "the cut value must reach the output for the question to matter"
    return intent.intentional_cut(model, cut, receiver, trace)


INTENTIONAL = {
    "straight-through": ("z = self.enc(x)\nq = torch.round(z)\nreturn z + (q - z).detach()", "(q - z).detach()"),
    "normalisation": ("h = self.enc(x)\nreturn h / h.norm(dim=-1, keepdim=True).detach()", "h.norm(dim=-1, keepdim=True).detach()"),
    "symmetric loss": ("z1, z2 = self.enc(x), self.enc(-x)\np1 = self.dec(z1)\nreturn -F.cosine_similarity(p1, z2.detach()).mean()", "z2.detach()"),
    "auxiliary output": ("feats = self.enc(x)\nreturn self.dec(feats), feats.detach()", "feats.detach()"),
    "target name": ("q = self.enc(x)\ntarget = x + 0.9 * self.dec(x).detach()\nreturn F.mse_loss(q, target)", "self.dec(x).detach()"),
    "target network": ("t = self.target_net(x).detach()\nreturn F.mse_loss(self.enc(x), t)", "self.target_net(x).detach()"),
    "teacher": ("t = self.teacher(x).detach()\nreturn self.enc(x) - t", "self.teacher(x).detach()"),
    "frozen in the file": ("f = self.frozen_part(x).detach()\nreturn self.dec(f)", "self.frozen_part(x).detach()"),
    "discriminator": ("fake = self.dec(x)\nreturn self.discriminator(fake.detach())", "fake.detach()"),
    "discriminator by letter": ("fake = self.dec(x)\nreturn self.netD(fake.detach())", "fake.detach()"),
    "numbered discriminator": ("fake = self.dec(x)\nreturn self.D2(fake.detach())", "fake.detach()"),
    "evaluation branch": ("h = self.enc(x)\nif not self.training:\n    return h.detach()\nreturn h", "h.detach()"),
    "configured stop-gradient": ("h = self.enc(x)\nif self.stop_gradient:\n    h = h.detach()\nreturn self.dec(h)", "h.detach()"),
    "same code in the other branch": ("h = self.enc(x)\nout = h.detach() if self.scale else h\nreturn self.dec(out)", "h.detach()"),
    "one side of a measured difference": ("p = self.enc(x)\nz = self.dec(x)\nreturn ((p - z.detach()) ** 2).mean()", "z.detach()"),
}


@pytest.mark.parametrize("name", list(INTENTIONAL))
def test_intentional_patterns(name):
    body, cut = INTENTIONAL[name]
    assert reason(body, cut) is not None, name


def test_truncated_bptt_in_a_training_loop():
    model = FileModel.build(cst.parse_module(SCRIPT), "train.py", SCRIPT)
    cut = node(model, "hidden.detach()")
    assert intent.truncated_bptt(model, cut, cut.func.value)
    cut = node(model, "h.detach()")
    assert intent.truncated_bptt(model, cut, cut.func.value)


SCRIPT = textwrap.dedent("""
def train(model, chunks, opt):
    hidden = None
    h = None
    for x, y in chunks:
        hidden = hidden.detach()
        h = h.detach()
        out, hidden = model(x, hidden)
        out, h = model(x, h)
        loss = ((out - y) ** 2).mean()
        loss.backward()
""")

BUGS = {
    "detached activation": ("h = self.enc(x).detach()\nreturn self.dec(h)", "self.enc(x).detach()"),
    "residual of another layer": ("h = self.enc(x).detach()\nreturn self.dec(x) + h", "self.enc(x).detach()"),
    "q, k, v names downstream": ("qkv = self.enc(x).detach()\nq, k, v = qkv.chunk(3, -1)\nreturn self.dec(v)", "self.enc(x).detach()"),
    "h is not a recurrent state": ("h = self.enc(x)\nh = h.detach()\nreturn self.dec(h)", "h.detach()"),
    "a numbered layer is not a discriminator": ("h = self.enc(x)\nreturn self.d2(h.detach())", "h.detach()"),
    "unmeasured difference": ("h = self.enc(x)\nreturn self.dec(x) - h.detach()", "h.detach()"),
}


@pytest.mark.parametrize("name", list(BUGS))
def test_real_cuts_are_not_excused(name):
    body, cut = BUGS[name]
    assert reason(body, cut) is None, name


def test_tensorflow_stop_gradient_straight_through():
    src = textwrap.dedent("""
    import tensorflow as tf
    from tensorflow import keras

    class Q(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)

        def call(self, x):
            z = self.dense(x)
            return z + tf.stop_gradient(tf.round(z) - z)
    """)
    model = FileModel.build(cst.parse_module(src), "k.py", src)
    cut = node(model, "tf.stop_gradient(tf.round(z) - z)")
    assert intent.combined_with_same_graph(model, cut, cut.args[0].value, None)
