"""Mutation tier: inject each rule family's bug into correct training code and measure recall.

Every mutant is one operator applied at one site of one file (a syntax-aware rewrite with
libcst). gradscan checks the mutant in-process with its default rules; the mutant is *caught*
when a finding that the unmutated file did not already have lies on the mutated lines (or on
the statement holding them). Recall is reported per family and per operator, with the number
of sites, as a markdown table.

Sources of correct code: pinned pure wheels of training libraries (only their ``.py`` files,
downloaded with ``pip download --no-deps``, or read from the benchmark corpus cache when
``benchmarks/corpus.py`` already put them there), and the repository's own training fixtures
that carry no ``# error:``/``# missed:`` mark.

    python benchmarks/mutate.py                       # every site (a few minutes)
    python benchmarks/mutate.py --limit 20 --seed 1   # at most 20 mutants per operator
    python benchmarks/mutate.py --misses              # also list the missed mutants

Generalises ``benchmarks/inject_cuts.py`` (GS2 cuts into timm forwards).
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import multiprocessing
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst
import libcst.metadata

REPO = Path(__file__).resolve().parent.parent

# Exact pins of training code (the pins of the training-code corpus). Pure wheels, except
# cleanrl (an sdist of scripts). tf-models-official is tf_keras code: legacy Keras tracks raw
# tf.Variables, so the add_weight operator finds no sites there.
SOURCES: Dict[str, str] = {
    "cleanrl": "0.4.8",
    "d2l": "1.0.3",
    "denoising-diffusion-pytorch": "2.3.4",
    "distrax": "0.1.9",
    "dopamine-rl": "4.1.2",
    "gpflow": "2.11.2",
    "labml-nn": "0.5.1",
    "lightning-bolts": "0.7.0",
    "numpyro": "0.22.0",
    "rlax": "0.1.9",
    "skrl": "2.1.1",
    "stable-baselines3": "2.9.2",
    "tf-models-official": "2.20.0",
    "tianshou": "2.0.1",
    "torchrl": "0.14.1",
    "torchtune": "0.6.1",
    "trl": "1.16.0",
}
FIXTURE_DIRS = ["torch_training", "training_loop", "torch_graph", "torch_params", "sampling", "tensorflow", "jax"]

# --------------------------------------------------------------------------- sources


def cache_root() -> Path:
    return Path(os.environ.get("GRADSCAN_BENCH_CACHE") or "~/.cache/gradscan-bench").expanduser()


def ensure_package(name: str, version: str) -> Path:
    """The folder of `name`'s .py files: the corpus cache's (``<root>/training/`` or ``<root>/``)
    when it is there, else our own download under ``<root>/mutation/``."""
    root = cache_root()
    folder_name = f"{name}-{version}"
    for corpus_dir in (root / "training" / folder_name, root / folder_name):
        if (corpus_dir / ".gradscan-corpus.json").exists():
            return corpus_dir
    own = root / "mutation" / folder_name
    done = own / ".complete"
    if done.exists():
        return own
    with tempfile.TemporaryDirectory() as tmp:
        for how in (["--only-binary=:all:"], ["--no-binary=:all:"]):
            got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *how,
                                  f"{name}=={version}", "-d", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if got.returncode == 0:
                break
        archives = sorted(Path(tmp).iterdir())
        if not archives:
            raise SystemExit(f"cannot download {name}=={version}")
        own.mkdir(parents=True, exist_ok=True)
        for member, data in _python_members(archives[0]):
            target = own / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    done.write_text(version)
    return own


def _python_members(archive: Path) -> Iterator[Tuple[str, bytes]]:
    """The .py files of a wheel or an sdist (safe relative paths only)."""
    def safe(member: str) -> bool:
        return member.endswith(".py") and not member.startswith("/") and ".." not in member.split("/")
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            yield from ((m, zf.read(m)) for m in zf.namelist() if safe(m))
    else:
        with tarfile.open(archive) as tf:
            for m in tf.getmembers():
                if m.isfile() and safe(m.name):
                    yield m.name.split("/", 1)[-1], tf.extractfile(m).read()


def source_files(only: Optional[Set[str]] = None) -> List[Tuple[str, Path, str]]:
    """(source name, path, display path), in a fixed order."""
    out = []
    for name, version in SOURCES.items():
        if only and name not in only:
            continue
        folder = ensure_package(name, version)
        out += [(name, p, f"{name}-{version}/{p.relative_to(folder)}") for p in sorted(folder.rglob("*.py"))]
    if not only or "fixtures" in only:
        for sub in FIXTURE_DIRS:
            for p in sorted((REPO / "tests" / "fixtures" / sub).glob("*.py")):
                text = p.read_text(encoding="utf-8", errors="replace")
                if "# error:" not in text and "# missed:" not in text:
                    out.append(("fixtures", p, str(p.relative_to(REPO))))
    return out


# --------------------------------------------------------------------------- names


def dotted(node) -> Optional[str]:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class Names:
    """A light import table (module level and function level alike): local name -> qualified."""

    def __init__(self, text: str):
        self.table: Dict[str, str] = {}
        self.legacy_keras = "tf_keras" in text or "TF_USE_LEGACY_KERAS" in text
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.table[a.asname] = a.name
                    else:
                        self.table.setdefault(a.name.split(".")[0], a.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.table[a.asname or a.name] = f"{node.module}.{a.name}"

    def resolve(self, node) -> Optional[str]:
        name = dotted(node)
        if not name:
            return None
        head, _, rest = name.partition(".")
        if head not in self.table:
            return None
        return self.table[head] + ("." + rest if rest else "")

    def bound(self, local: str, qualified: str) -> bool:
        return self.table.get(local) == qualified


def is_call_to(names: Names, node, *qualified: str) -> bool:
    return isinstance(node, cst.Call) and names.resolve(node.func) in qualified


def method_call(node, attr: str) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == attr


def atom(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`expr` as the receiver of an attribute: parenthesised unless it already binds tighter."""
    if isinstance(expr, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) or expr.lpar:
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def names_in(node) -> Set[str]:
    out: Set[str] = set()

    def visit(n):
        if isinstance(n, cst.Name):
            out.add(n.value)
        for c in children(n):
            visit(c)
    visit(node)
    return out


# --------------------------------------------------------------------------- tree walking

Parents = Tuple[cst.CSTNode, ...]


_KIDS: Dict[int, List[cst.CSTNode]] = {}


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """A node's child nodes, read from its fields (libcst's `.children` runs a visitor: 10x slower).
    Cached per file (`context` clears the cache)."""
    kids = _KIDS.get(id(node))
    if kids is None:
        kids = []
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, cst.CSTNode):
                kids.append(value)
            elif isinstance(value, (list, tuple)):
                kids += [v for v in value if isinstance(v, cst.CSTNode)]
        _KIDS[id(node)] = kids
    return kids


_WALKS: Dict[int, List[Tuple[cst.CSTNode, Parents]]] = {}


def walk(node: cst.CSTNode) -> List[Tuple[cst.CSTNode, Parents]]:
    """Every node under `node` (itself included) in source order, with its ancestors below `node`.
    Cached per file like `children`."""
    done = _WALKS.get(id(node))
    if done is None:
        done = []
        stack: List[Tuple[cst.CSTNode, Parents]] = [(node, ())]
        while stack:
            n, parents = stack.pop()
            done.append((n, parents))
            inner = parents + (n,)
            stack += [(c, inner) for c in reversed(children(n))]
        _WALKS[id(node)] = done
    return done


def enclosing(parents: Parents, kind) -> Optional[cst.CSTNode]:
    for p in reversed(parents):
        if isinstance(p, kind):
            return p
    return None


def enclosing_function(parents: Parents) -> Optional[cst.FunctionDef]:
    return enclosing(parents, cst.FunctionDef)


def enclosing_class(parents: Parents) -> Optional[cst.ClassDef]:
    fn_seen = False
    for p in reversed(parents):
        if isinstance(p, cst.FunctionDef):
            if fn_seen:
                return None  # a nested function is not a method
            fn_seen = True
        if isinstance(p, cst.ClassDef):
            return p
    return None


def simple_assign(stmt) -> Optional[Tuple[cst.BaseAssignTargetExpression, cst.BaseExpression]]:
    """(target, value) of `target = value` as the only statement of a line."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        s = stmt.body[0]
        if isinstance(s, cst.Assign) and len(s.targets) == 1:
            return s.targets[0].target, s.value
    return None


def expr_call(stmt) -> Optional[cst.Call]:
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        s = stmt.body[0]
        if isinstance(s, cst.Expr) and isinstance(s.value, cst.Call):
            return s.value
    return None


def self_attr(node) -> Optional[str]:
    """`attr` of `self.attr`."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def class_attrs(cls: cst.ClassDef) -> Dict[str, cst.BaseExpression]:
    """`self.attr = value` assignments in the class's methods (last one wins)."""
    out = {}
    for node, _ in walk(cls):
        a = simple_assign(node)
        if a and self_attr(a[0]):
            out[self_attr(a[0])] = a[1]
    return out


def methods(cls: cst.ClassDef) -> Set[str]:
    return {s.name.value for s in cls.body.body if isinstance(s, cst.FunctionDef)}


def read_after(fn: cst.FunctionDef, stmt: cst.CSTNode, name: str) -> bool:
    """Is `name` read in a statement of `fn` that comes after `stmt` (source order)?"""
    after = False
    for node, _ in walk(fn.body):
        if node is stmt:
            after = True
            continue
        if after and isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) and name in names_in(node):
            return True
    return False


def suites(module: cst.Module) -> Iterator[Tuple[cst.CSTNode, Parents]]:
    """Statement lists: the module and every indented block."""
    for node, parents in walk(module):
        if isinstance(node, (cst.Module, cst.IndentedBlock)):
            yield node, parents


# --------------------------------------------------------------------------- mutation machinery


class _Rewrite(cst.CSTTransformer):
    def __init__(self, target: cst.CSTNode, fn: Callable):
        super().__init__()
        self.target, self.fn, self.done, self.focus = target, fn, 0, None

    def on_leave(self, original_node, updated_node):
        if original_node is self.target:
            self.done += 1
            out = self.fn(updated_node)
            out, self.focus = out if isinstance(out, tuple) else (out, out)
            return out
        return updated_node


@dataclass
class Site:
    target: cst.CSTNode
    # updated target -> replacement, or (replacement, the node or nodes that hold the bug: a
    # finding on any of them catches the mutant)
    fn: Callable


def apply(module: cst.Module, site: Site) -> Tuple[str, Set[int]]:
    """The mutant's text and the lines (1-based) of the node that holds the injected bug."""
    rw = _Rewrite(site.target, site.fn)
    new = module.visit(rw)
    assert rw.done == 1
    wrapper = cst.metadata.MetadataWrapper(new, unsafe_skip_copy=True)
    positions = wrapper.resolve(cst.metadata.PositionProvider)
    lines: Set[int] = set()
    for node in rw.focus if isinstance(rw.focus, list) else [rw.focus]:
        pos = positions[node]
        lines |= set(range(pos.start.line, pos.end.line + 1))
    return new.code, lines


def append_call(expr, attr: str) -> cst.Call:
    return cst.Call(func=cst.Attribute(value=atom(expr), attr=cst.Name(attr)))


def wrap_call(func: str, expr) -> cst.Call:
    return cst.Call(func=cst.parse_expression(func), args=[cst.Arg(expr)])


def replace_value(stmt: cst.SimpleStatementLine, fn) -> cst.SimpleStatementLine:
    s = stmt.body[0]
    return stmt.with_changes(body=[s.with_changes(value=fn(s.value))])


# --------------------------------------------------------------------------- operators

TORCH_WEIGHTED = {
    "Linear", "Bilinear", "LazyLinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "Embedding", "EmbeddingBag", "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell",
    "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
    "TransformerDecoderLayer", "LayerNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "PReLU",
    "Sequential",
}
KERAS_WEIGHTED = {
    "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv1DTranspose", "DepthwiseConv2D",
    "SeparableConv2D", "Embedding", "LSTM", "GRU", "SimpleRNN", "MultiHeadAttention", "LayerNormalization",
    "BatchNormalization", "Bidirectional", "Sequential",
}


@dataclass
class Ctx:
    module: cst.Module
    names: Names
    text: str
    local_classes: Dict[str, Set[str]] = field(default_factory=dict)  # class name -> its method names
    attrs: Dict[int, Dict[str, cst.BaseExpression]] = field(default_factory=dict)  # id(class) -> class_attrs


def weighted_attr(ctx: Ctx, cls: cst.ClassDef, attr: Optional[str], framework: str) -> bool:
    """Is `self.attr` a layer with weights (a framework layer known to have some, or a local model class)?"""
    if id(cls) not in ctx.attrs:
        ctx.attrs[id(cls)] = class_attrs(cls)
    value = ctx.attrs[id(cls)].get(attr) if attr else None
    if not isinstance(value, cst.Call):
        return False
    qual = ctx.names.resolve(value.func) or ""
    local = dotted(value.func)
    root_method = "forward" if framework == "torch" else "call"
    if local in ctx.local_classes and root_method in ctx.local_classes[local]:
        return True
    last = qual.rsplit(".", 1)[-1]
    if framework == "torch":
        return qual.startswith("torch.nn.") and last in TORCH_WEIGHTED
    return ("keras" in qual) and last in KERAS_WEIGHTED


def layer_call_sites(ctx: Ctx, method: str, framework: str) -> Iterator[Tuple[cst.SimpleStatementLine, str]]:
    """Statements `name = self.layer(...)` (name read later) or `return self.layer(...)` in `method`.
    Yields (statement, "assign" | "return")."""
    for node, parents in walk(ctx.module):
        if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
            continue
        fn = enclosing_function(parents)
        cls = enclosing_class(parents)
        if fn is None or cls is None or fn.name.value != method:
            continue
        s = node.body[0]
        if isinstance(s, cst.Return) and isinstance(s.value, cst.Call):
            if weighted_attr(ctx, cls, self_attr(s.value.func), framework):
                yield node, "return"
            continue
        a = simple_assign(node)
        if a and isinstance(a[0], cst.Name) and isinstance(a[1], cst.Call):
            if weighted_attr(ctx, cls, self_attr(a[1].func), framework) and read_after(fn, node, a[0].value):
                yield node, "assign"


def wrap_with(head: str):
    def fn(stmt):
        return cst.With(items=[cst.WithItem(cst.parse_expression(head))],
                        body=cst.IndentedBlock(body=[stmt.with_changes(leading_lines=())]),
                        leading_lines=stmt.leading_lines)
    return fn


# GS1 ------------------------------------------------------------------------


def parameter_sites(ctx: Ctx, qualified=("torch.nn.Parameter",)):
    for node, parents in walk(ctx.module):
        a = simple_assign(node)
        if not a or not self_attr(a[0]) or enclosing_class(parents) is None:
            continue
        if is_call_to(ctx.names, a[1], *qualified):
            yield node, a[1]


def trainable_parameter(call: cst.Call) -> bool:
    if not call.args or call.args[0].keyword:
        return False
    for arg in call.args[1:]:
        if arg.keyword and arg.keyword.value == "requires_grad" or (not arg.keyword):
            return False  # requires_grad given: keep to the plain trainable form
    return True


TORCH_FACTORIES = {"zeros", "ones", "randn", "rand", "empty", "full", "eye", "arange", "linspace", "tensor",
                   "zeros_like", "ones_like", "randn_like", "rand_like", "empty_like", "full_like", "normal"}


def op_param_unwrap(ctx):
    for stmt, call in parameter_sites(ctx):
        if not trainable_parameter(call):
            continue
        inner = call.args[0].value

        def fn(updated, inner=inner):
            def new_value(_):
                if isinstance(inner, cst.Call) and (ctx.names.resolve(inner.func) or "").rsplit(".", 1)[-1] in TORCH_FACTORIES \
                        and (ctx.names.resolve(inner.func) or "").startswith("torch.") \
                        and not any(a.keyword and a.keyword.value == "requires_grad" for a in inner.args):
                    args = list(inner.args)
                    if args:
                        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                    return inner.with_changes(args=args + [cst.Arg(cst.Name("True"), keyword=cst.Name("requires_grad"),
                                                                   equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])
                return append_call(inner, "requires_grad_")
            return replace_value(updated, new_value)
        yield Site(stmt, fn)


def op_param_to_device(ctx):
    for stmt, call in parameter_sites(ctx):
        if trainable_parameter(call):
            yield Site(stmt, lambda u: replace_value(u, lambda v: cst.Call(
                func=cst.Attribute(value=v, attr=cst.Name("to")), args=[cst.Arg(cst.Name("device"))])))


def op_modulelist_to_list(ctx):
    for stmt, call in parameter_sites(ctx, ("torch.nn.ModuleList", "torch.nn.ModuleDict")):
        is_dict = ctx.names.resolve(call.func).endswith("Dict")

        def new_value(v, is_dict=is_dict):
            if not v.args:
                return cst.Dict([]) if is_dict else cst.List([])
            inner = v.args[0].value
            if isinstance(inner, (cst.List, cst.Dict)) or (isinstance(inner, cst.ListComp) and not is_dict):
                return inner
            return cst.Call(func=cst.Name("dict" if is_dict else "list"), args=[cst.Arg(inner)])
        if len(call.args) <= 1 and not (call.args and call.args[0].keyword):
            yield Site(stmt, lambda u, f=new_value: replace_value(u, f))


# GS2 ------------------------------------------------------------------------


def op_forward_detach(ctx):
    for stmt, _ in layer_call_sites(ctx, "forward", "torch"):
        yield Site(stmt, lambda u: replace_value(u, lambda v: append_call(v, "detach")))


def op_forward_no_grad(ctx):
    if not ctx.names.bound("torch", "torch"):
        return
    for stmt, _ in layer_call_sites(ctx, "forward", "torch"):
        yield Site(stmt, wrap_with("torch.no_grad()"))


def op_forward_data(ctx):
    for stmt, _ in layer_call_sites(ctx, "forward", "torch"):
        yield Site(stmt, lambda u: replace_value(u, lambda v: cst.Attribute(value=v, attr=cst.Name("data"))))


def backward_names(stmt) -> Set[str]:
    """Names backpropagated by a statement: `L.backward()`, `scaler.scale(L).backward()`,
    `accelerator.backward(L)`, `self.manual_backward(L)`."""
    call = expr_call(stmt)
    if call is None or not isinstance(call.func, cst.Attribute):
        return set()
    attr = call.func.attr.value
    if attr == "backward":
        recv = call.func.value
        if isinstance(recv, cst.Name):
            return {recv.value}
        if method_call(recv, "scale") and recv.args and isinstance(recv.args[0].value, cst.Name):
            return {recv.args[0].value.value}
        if call.args and isinstance(call.args[0].value, cst.Name):
            return {call.args[0].value.value}
    if attr == "manual_backward" and call.args and isinstance(call.args[0].value, cst.Name):
        return {call.args[0].value.value}
    return set()


def op_loss_item_rewrap(ctx):
    """`loss = E` -> `loss = torch.tensor(E.item())` for the last assignment before `loss.backward()`."""
    if not ctx.names.bound("torch", "torch"):
        return
    for suite, _ in suites(ctx.module):
        body = list(suite.body)
        for j, stmt in enumerate(body):
            for name in sorted(backward_names(stmt)):
                for k in range(j - 1, -1, -1):
                    a = simple_assign(body[k])
                    if a and isinstance(a[0], cst.Name) and a[0].value == name:
                        yield Site(body[k], lambda u: replace_value(
                            u, lambda v: wrap_call("torch.tensor", append_call(v, "item"))))
                        break


# GS3 ------------------------------------------------------------------------


def op_rsample_to_sample(ctx):
    # Only torch (and Pyro, which imports it) draws `.sample()` under no_grad. A file that does not
    # import torch samples with another library: numpyro's `sample` of a reparameterized
    # distribution is differentiable (its 4 sites in distribution.py give the same gradients
    # with `sample` as with `rsample`, checked under numpyro 0.22.0): no bug to find.
    if not any(q == "torch" or q.startswith("torch.") for q in ctx.names.table.values()):
        return
    for node, parents in walk(ctx.module):
        if method_call(node, "rsample"):
            if any(isinstance(p, cst.With) and any(_no_grad_item(w.item) for w in p.items) for p in parents):
                continue  # under `torch.no_grad()` rsample and sample give the same graph-less value
            yield Site(node, lambda u: u.with_changes(func=u.func.with_changes(attr=cst.Name("sample"))))


def _no_grad_item(expr) -> bool:
    return isinstance(expr, cst.Call) and (dotted(expr.func) or "").split(".")[-1] in ("no_grad", "inference_mode")


# GS4 ------------------------------------------------------------------------


def op_add_weight_to_variable(ctx):
    if ctx.names.legacy_keras or not ctx.names.bound("tf", "tensorflow"):
        return
    for node, parents in walk(ctx.module):
        a = simple_assign(node)
        if not a or not self_attr(a[0]) or not method_call(a[1], "add_weight") or enclosing_class(parents) is None:
            continue
        if self_attr(a[1].func) != "add_weight":
            continue
        args = a[1].args
        if any(x.keyword and x.keyword.value == "trainable" and dotted(x.value) == "False" for x in args):
            continue
        shape = next((x.value for x in args if x.keyword and x.keyword.value == "shape"), None)
        if shape is None and args and not args[0].keyword and not isinstance(args[0].value, cst.SimpleString):
            shape = args[0].value
        if shape is None:
            continue
        yield Site(node, lambda u, shape=shape: replace_value(
            u, lambda v: wrap_call("tf.Variable", wrap_call("tf.zeros", shape))))


def op_call_stop_gradient(ctx):
    if not ctx.names.bound("tf", "tensorflow"):
        return
    for stmt, _ in layer_call_sites(ctx, "call", "keras"):
        yield Site(stmt, lambda u: replace_value(u, lambda v: wrap_call("tf.stop_gradient", v)))


def op_numpy_in_tape(ctx):
    """In `with tf.GradientTape() as tape:`, `.numpy()` on the loss given to `tape.gradient`,
    or on a call result the loss's statement reads."""
    for node, parents in walk(ctx.module):
        if not isinstance(node, cst.With) or len(node.items) != 1:
            continue
        item = node.items[0]
        if not is_call_to(ctx.names, item.item, "tensorflow.GradientTape") or item.asname is None:
            continue
        tape = dotted(item.asname.name)
        fn = enclosing_function(parents)
        scope = fn.body if fn else ctx.module
        losses = set()
        for n, _ in walk(scope):
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "gradient" \
                    and dotted(n.func.value) == tape and n.args and isinstance(n.args[0].value, cst.Name):
                losses.add(n.args[0].value.value)
        body = list(node.body.body)
        for i, stmt in enumerate(body):
            a = simple_assign(stmt)
            if not a or not isinstance(a[0], cst.Name) or a[0].value not in losses:
                continue
            yield Site(stmt, lambda u: replace_value(u, lambda v: append_call(v, "numpy")))
            read = names_in(a[1])
            for k in range(i):
                b = simple_assign(body[k])
                if b and isinstance(b[0], cst.Name) and b[0].value in read and isinstance(b[1], cst.Call):
                    yield Site(body[k], lambda u: replace_value(u, lambda v: append_call(v, "numpy")))


# GS5 ------------------------------------------------------------------------

JAX_GRADS = ("jax.grad", "jax.value_and_grad", "flax.nnx.grad", "flax.nnx.value_and_grad")


def differentiated_functions(ctx) -> Iterator[cst.FunctionDef]:
    wanted = set()
    for node, _ in walk(ctx.module):
        if is_call_to(ctx.names, node, *JAX_GRADS) and node.args and isinstance(node.args[0].value, cst.Name):
            wanted.add(node.args[0].value.value)
    for node, _ in walk(ctx.module):
        if isinstance(node, cst.FunctionDef) and (node.name.value in wanted or any(
                ctx.names.resolve(d.decorator) in JAX_GRADS for d in node.decorators)):
            yield node


def prediction_sites(ctx):
    """`y = call(...)` in a differentiated function, the call reading its first parameter and `y` read later."""
    for _fn, node in _prediction_sites(ctx):
        yield node


# Attributes and methods of a JAX array: a value read with any other attribute later
# (`dist.sample(...)`, `out.log_probability`, `obj.data`) is an object, not an array.
ARRAY_ATTRS = {
    "shape", "dtype", "ndim", "size", "T", "mT", "at", "real", "imag", "mean", "sum", "max", "min", "std", "var",
    "prod", "any", "all", "argmax", "argmin", "argsort", "sort", "reshape", "astype", "squeeze", "ravel", "flatten",
    "transpose", "swapaxes", "clip", "round", "cumsum", "cumprod", "dot", "take", "repeat", "conj", "item",
    "tolist", "block_until_ready", "nonzero", "diagonal", "trace", "ptp", "view", "copy", "addressable_data",
}


def used_as_object(fn: cst.FunctionDef, stmt: cst.CSTNode, name: str) -> bool:
    """After `stmt`, `name` is read with an attribute no array has: it holds an object."""
    after = False
    for node, _ in walk(fn.body):
        if node is stmt:
            after = True
            continue
        if after and isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) \
                and node.value.value == name and node.attr.value not in ARRAY_ATTRS:
            return True
    return False


def _prediction_sites(ctx):
    for fn in differentiated_functions(ctx):
        params = [p.name.value for p in fn.params.params]
        if not params:
            continue
        first = params[0]
        for node, parents in walk(fn.body):
            if enclosing_function(parents) is not None:
                continue  # a nested function
            a = simple_assign(node)
            if a and isinstance(a[0], cst.Name) and isinstance(a[1], cst.Call) and first in names_in(a[1]) \
                    and read_after(fn, node, a[0].value):
                yield fn, node


def op_jax_stop_gradient(ctx):
    if not ctx.names.bound("jax", "jax"):
        return
    for stmt in prediction_sites(ctx):
        yield Site(stmt, lambda u: replace_value(u, lambda v: wrap_call("jax.lax.stop_gradient", v)))


def op_jax_item(ctx):
    for fn, stmt in _prediction_sites(ctx):
        # `dist = Normal(loc, scale)` then `dist.sample(...)`, `out = net.apply(...)` then
        # `out.log_probability`: the value is an object, not an array; `.item()` on it raises
        # AttributeError with or without any transform (a flax struct run eagerly and under
        # jax.grad: both raise), a crash, not a gradient bug, so no mutant there. `stop_gradient`
        # of such an object is kept: it maps over a pytree's leaves, silently.
        if used_as_object(fn, stmt, simple_assign(stmt)[0].value):
            continue
        yield Site(stmt, lambda u: replace_value(u, lambda v: append_call(v, "item")))


# GS6 ------------------------------------------------------------------------


def is_zero_grad(stmt) -> bool:
    call = expr_call(stmt)
    return call is not None and method_call(call, "zero_grad")


def is_step(stmt) -> bool:
    call = expr_call(stmt)
    return call is not None and method_call(call, "step")


def receiver(stmt) -> Optional[str]:
    """The optimizer a `opt.zero_grad()` / `opt.step()` / `scaler.step(opt)` statement acts on."""
    call = expr_call(stmt)
    if call is None or not isinstance(call.func, cst.Attribute):
        return None
    if call.func.attr.value == "step" and call.args and not call.args[0].keyword:
        return dotted(call.args[0].value)  # scaler.step(opt)
    return dotted(call.func.value)


def same_optimizer(zero, step) -> bool:
    """Only a zero_grad of the optimizer that steps makes the mutant a bug for sure."""
    r = receiver(zero)
    return r is not None and r == receiver(step)


def _move(suite, src: int, dst: int):
    """`suite` with the statement at `src` moved to sit before index `dst` (of the original list),
    and the moved statement."""
    body = list(suite.body)
    moved = body[src].with_changes(leading_lines=())
    out = [s for i, s in enumerate(body) if i != src]
    out.insert(dst if dst < src else dst - 1, moved)
    return suite.with_changes(body=out), moved


def op_zero_grad_between(ctx):
    """`zero_grad(); backward(); step()` (or zero_grad after step) -> zero_grad moved just after backward."""
    for suite, _ in suites(ctx.module):
        body = list(suite.body)
        for b, stmt in enumerate(body):
            if not backward_names(stmt):
                continue
            s = next((i for i in range(b + 1, len(body)) if is_step(body[i])), None)
            if s is None:
                continue
            zs = [i for i in range(len(body)) if is_zero_grad(body[i]) and not b < i < s and same_optimizer(body[i], body[s])]
            if zs:
                z = max((i for i in zs if i < b), default=min(zs))
                yield Site(suite, lambda u, z=z, b=b: _move(u, z, b + 1))


def op_zero_grad_every_micro_batch(ctx):
    """Accumulation broken: the zero_grad under `if i % n == 0:` beside step() moved before backward()
    (every micro-batch); or, in a plain `for i, ... in enumerate(...)` loop, step() put under
    `if (i + 1) % 4 == 0:` while zero_grad stays every micro-batch."""
    for suite, parents in suites(ctx.module):
        body = list(suite.body)
        for b, stmt in enumerate(body):
            if not backward_names(stmt):
                continue
            for i in range(b + 1, len(body)):
                cond = body[i]
                if isinstance(cond, cst.If) and "%" in ctx.module.code_for_node(cond.test):
                    inner = list(cond.body.body)
                    if any(backward_names(x) for x in inner):
                        continue  # a second loss stepped under the condition (a GAN's generator): no accumulation
                    zs = [k for k, x in enumerate(inner) if is_zero_grad(x)
                          and any(is_step(y) and same_optimizer(x, y) for y in inner)]
                    if zs:
                        z = zs[0]

                        def fn(u, b=b, i=i, z=z):
                            new = list(u.body)
                            ifs = new[i]
                            moved = ifs.body.body[z]
                            new[i] = ifs.with_changes(body=ifs.body.with_changes(
                                body=[x for k, x in enumerate(ifs.body.body) if k != z]))
                            moved = moved.with_changes(leading_lines=())
                            new.insert(b, moved)
                            return u.with_changes(body=new), moved
                        yield Site(suite, fn)
            loop = parents[-1] if parents else None
            if not isinstance(loop, cst.For):
                continue
            index = loop_index(loop)
            s = next((i for i in range(b + 1, len(body)) if is_step(body[i])), None)
            if index and s is not None and any(is_zero_grad(x) and same_optimizer(x, body[s]) for x in body[:b]):
                def fn(u, s=s, b=b, index=index):
                    new = list(u.body)
                    guarded = cst.parse_statement(f"if ({index} + 1) % 4 == 0:\n    pass\n")
                    new[s] = guarded.with_changes(body=guarded.body.with_changes(
                        body=[new[s].with_changes(leading_lines=())]), leading_lines=new[s].leading_lines)
                    # The bug is the pair: the guarded step and the every-micro-batch zero_grad
                    # of the same optimizer (where a fix, and GS603's finding, go).
                    zeros = [x for x in new[:b] if is_zero_grad(x) and same_optimizer(x, new[s].body.body[0])]
                    return u.with_changes(body=new), [new[s], *zeros]
                yield Site(suite, fn)


def loop_index(loop: cst.For) -> Optional[str]:
    """The counter of `for i, x in enumerate(...)` or `for i in range(...)`."""
    it = loop.iter
    if isinstance(it, cst.Call) and dotted(it.func) == "enumerate" and isinstance(loop.target, cst.Tuple) \
            and loop.target.elements and isinstance(loop.target.elements[0].value, cst.Name):
        return loop.target.elements[0].value.value
    if isinstance(it, cst.Call) and dotted(it.func) == "range" and isinstance(loop.target, cst.Name):
        return loop.target.value
    return None


OPERATORS: List[Tuple[str, str, Callable]] = [
    ("GS1", "param-unwrap", op_param_unwrap),
    ("GS1", "param-to-device", op_param_to_device),
    ("GS1", "modulelist-to-list", op_modulelist_to_list),
    ("GS2", "forward-detach", op_forward_detach),
    ("GS2", "forward-no-grad", op_forward_no_grad),
    ("GS2", "forward-data", op_forward_data),
    ("GS2", "loss-item-rewrap", op_loss_item_rewrap),
    ("GS3", "rsample-to-sample", op_rsample_to_sample),
    ("GS4", "add-weight-to-variable", op_add_weight_to_variable),
    ("GS4", "call-stop-gradient", op_call_stop_gradient),
    ("GS4", "numpy-in-tape", op_numpy_in_tape),
    ("GS5", "jax-stop-gradient-prediction", op_jax_stop_gradient),
    ("GS5", "jax-item-traced", op_jax_item),
    ("GS6", "zero-grad-between", op_zero_grad_between),
    ("GS6", "zero-grad-every-micro-batch", op_zero_grad_every_micro_batch),
]
# Text an operator's sites cannot lack: files without any are not parsed (libcst's parse is
# most of the planning time).
TRIGGERS: Dict[str, Tuple[str, ...]] = {
    "param-unwrap": ("Parameter",), "param-to-device": ("Parameter",), "modulelist-to-list": ("Module",),
    "forward-detach": ("def forward",), "forward-no-grad": ("def forward",), "forward-data": ("def forward",),
    "loss-item-rewrap": ("backward",), "rsample-to-sample": (".rsample",), "add-weight-to-variable": ("add_weight",),
    "call-stop-gradient": ("def call",), "numpy-in-tape": ("GradientTape",), "jax-stop-gradient-prediction": ("grad",),
    "jax-item-traced": ("grad",), "zero-grad-between": ("zero_grad",), "zero-grad-every-micro-batch": ("zero_grad",),
}
OPERATOR_NAMES = [name for _, name, _ in OPERATORS]


def context(text: str) -> Optional[Ctx]:
    _KIDS.clear()
    _WALKS.clear()
    try:
        module = cst.parse_module(text)
    except Exception:  # noqa: BLE001 - a file libcst cannot parse offers no sites
        return None
    ctx = Ctx(module, Names(text), text)
    for node, _ in walk(module):
        if isinstance(node, cst.ClassDef):
            ctx.local_classes[node.name.value] = methods(node)
    return ctx


def mutants(text: str, operator: str) -> List[str]:
    """Every mutant of `text` by `operator`, in source order (one site each)."""
    ctx = context(text)
    if ctx is None:
        return []
    fn = dict((n, f) for _, n, f in OPERATORS)[operator]
    return [apply(ctx.module, site)[0] for site in fn(ctx)]


# --------------------------------------------------------------------------- scoring


def catch_span(old: str, new: str, focus: Set[int]) -> Tuple[Set[int], Dict[int, Optional[int]]]:
    """The lines (1-based, in `new`) a finding must lie on to catch the mutant: the lines of the
    node holding the bug and of the statement holding it (a compound statement: its header);
    and new line -> old line (None: a line the mutation added)."""
    a, b = old.splitlines(), new.splitlines()
    to_old: Dict[int, Optional[int]] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for j in range(j1, j2):
            if tag == "equal":
                to_old[j + 1] = i1 + (j - j1) + 1
            elif tag == "replace":
                to_old[j + 1] = i1 + min(j - j1, i2 - i1 - 1) + 1
            else:
                to_old[j + 1] = None
    span = set(focus)
    first = min(focus)
    best = None
    for node in ast.walk(ast.parse(new)):
        if isinstance(node, ast.stmt) and node.lineno <= first <= (node.end_lineno or node.lineno):
            end = node.end_lineno or node.lineno
            if hasattr(node, "body") and isinstance(node.body, list) and node.body and node.body[0].lineno > first:
                end = node.body[0].lineno - 1
            if node.lineno <= first <= end and (best is None or end - node.lineno < best[1] - best[0]):
                best = (node.lineno, end)
    if best:
        span |= set(range(best[0], best[1] + 1))
    return span, to_old


PROJECT_MODE = False  # --project: each mutant is checked with its package's project index
_PROJECTS: Dict[str, object] = {}


def project_of(path: str):
    """The project index of the package `path` belongs to (built once per package), as
    `gradscan src/` builds it: other files' classes, summaries and linked code."""
    folder = next((f for f in _package_folders() if path.startswith(f + os.sep)), None)
    if folder is None:
        return None
    if folder not in _PROJECTS:
        from gradscan.config import Settings
        from gradscan.runner import index_for

        _PROJECTS[folder] = index_for([], [folder], Settings(), use_cache=False)
    return _PROJECTS[folder]


def _package_folders() -> List[str]:
    """The folders the sources were read from (never a download: the fixtures have none)."""
    root = cache_root()
    return [str(d) for name, version in SOURCES.items()
            for d in (root / "training" / f"{name}-{version}", root / f"{name}-{version}", root / "mutation" / f"{name}-{version}")
            if d.is_dir()]


def gradient_findings(text: str, path: str):
    from gradscan import check_source
    project = project_of(path) if PROJECT_MODE else None
    return [f for f in check_source(text, path=path, project=project)
            if f.code[:3] in ("GS1", "GS2", "GS3", "GS4", "GS5", "GS6")]


@dataclass
class Result:
    family: str
    operator: str
    display: str
    line: int
    caught: bool
    codes: Tuple[str, ...]


def score(display: str, path: str, old: str, mutant: Tuple[str, Set[int]], before: Set[Tuple[str, int]],
          family: str, operator: str) -> Result:
    new, focus = mutant
    span, to_old = catch_span(old, new, focus)
    hits = sorted({f.code for f in gradient_findings(new, path)
                   if f.line in span and (f.code, to_old.get(f.line)) not in before})
    return Result(family, operator, display, min(focus), bool(hits), tuple(hits))


def run(only_sources: Optional[Set[str]], operators: Sequence[str], limit: Optional[int], seed: int,
        progress: bool = True, jobs: int = 1) -> List[Result]:
    files = source_files(only_sources)
    wanted = [(fam, name, fn) for fam, name, fn in OPERATORS if name in operators]
    started = time.perf_counter()
    plan: Dict[str, List[Tuple[str, str, Ctx, Site]]] = defaultdict(list)  # operator -> (display, path, ctx, site)
    for number, (_, path, display) in enumerate(files, 1):
        text = path.read_text(encoding="utf-8", errors="replace")
        todo = [(fam, name, fn) for fam, name, fn in wanted if any(t in text for t in TRIGGERS[name])]
        ctx = context(text) if todo else None
        if progress and number % 500 == 0:
            print(f"planned {number} / {len(files)} files ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        if ctx is None:
            continue
        for fam, name, fn in todo:
            plan[name] += [(display, str(path), ctx, site) for site in fn(ctx)]
    global _ITEMS
    _ITEMS = []
    FOUND.clear()
    FOUND.update({name: len(plan[name]) for _, name, _ in wanted})
    for fam, name, fn in wanted:
        chosen = plan[name]
        if limit is not None and len(chosen) > limit:
            keep = sorted(random.Random(f"{seed}:{name}").sample(range(len(chosen)), limit))
            chosen = [chosen[i] for i in keep]
        _ITEMS += [(fam, name, *item) for item in chosen]
    if progress:
        print(f"{len(_ITEMS)} mutants of {len(files)} files ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        # Forked workers inherit the parsed files and sites (closures cannot be pickled).
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_score_item, range(len(_ITEMS)), chunksize=4)
    else:
        results = [_score_item(i) for i in range(len(_ITEMS))]
    if progress:
        print(f"scored ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return results


FOUND: Dict[str, int] = {}  # operator -> sites found before --limit
_ITEMS: List[tuple] = []  # (family, operator, display, path, ctx, site), shared with forked workers
_BEFORE: Dict[str, Set[Tuple[str, int]]] = {}


def _score_item(i: int) -> Result:
    fam, name, display, path, ctx, site = _ITEMS[i]
    if display not in _BEFORE:
        _BEFORE[display] = {(f.code, f.line) for f in gradient_findings(ctx.text, path)}
    return score(display, path, ctx.text, apply(ctx.module, site), _BEFORE[display], fam, name)


def table(results: List[Result]) -> str:
    rows = ["| family | operator | sites | caught | recall |", "|---|---|---|---|---|"]
    by_family: Dict[str, List[Result]] = defaultdict(list)
    by_op: Dict[Tuple[str, str], List[Result]] = defaultdict(list)
    for r in results:
        by_family[r.family].append(r)
        by_op[(r.family, r.operator)].append(r)

    def cell(rs):
        n, c = len(rs), sum(r.caught for r in rs)
        return f"{n} | {c} | {c / n:.2f}" if n else "0 | 0 | -"
    for fam, name, _ in OPERATORS:
        if (fam, name) in by_op:
            rows.append(f"| {fam} | {name} | {cell(by_op[(fam, name)])} |")
    for fam in sorted(by_family):
        rows.append(f"| **{fam}** | all | {cell(by_family[fam])} |")
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", help="comma-separated subset of: " + ", ".join([*SOURCES, "fixtures"]))
    ap.add_argument("--operators", help="comma-separated subset of: " + ", ".join(OPERATOR_NAMES))
    ap.add_argument("--limit", type=int, help="at most this many mutants per operator (a seeded sample)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--misses", action="store_true", help="list the missed mutants")
    ap.add_argument("--project", action="store_true",
                    help="check each mutant with its package's project index (as `gradscan src/` does), not alone")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    args = ap.parse_args(argv)
    global PROJECT_MODE
    PROJECT_MODE = args.project
    only = set(args.sources.split(",")) if args.sources else None
    ops = args.operators.split(",") if args.operators else OPERATOR_NAMES
    unknown = [o for o in ops if o not in OPERATOR_NAMES]
    if unknown:
        ap.error(f"unknown operator: {', '.join(unknown)}")
    results = run(only, ops, args.limit, args.seed, jobs=args.jobs)
    print(table(results))
    print()
    print("Sites found (before --limit): " + ", ".join(f"{k} {v}" for k, v in FOUND.items()) + ".")
    if args.misses:
        print()
        for r in results:
            if not r.caught:
                print(f"missed {r.operator} {r.display}:{r.line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
