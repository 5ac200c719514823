"""Linking a file to the project files it works with: the definitions a training script imports
(`from models import Net, train`), and the code of the project files that import from it (the
script that builds `Net()` and calls `train(net, ...)` for the file that defines them).

The engine analyses a file with this context appended after its own last line and keeps only
the findings on its own lines, so every analysis (sources, flow, summaries, objects, contexts)
crosses the file boundary the way it crosses a function's: `train(model, ...)` in `lib.py`
knows `model` is an `MDN` because `main.py` passes one, and `jax.grad(loss)` in `main.py`
knows `loss`'s parameters because `lib.py` defines it. Only files about training are linked
(see `about_training`), within size caps, so a library's modules are analysed as before.

Built with `ast` from the files on disk when the engine asks (`ProjectIndex.linked_context`, a
query the results cache records: editing a linked file re-checks the files linked to it).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from gradscan.files.source import SourceError, decode_python

# Words of a file that trains or differentiates something: only such files take or give context.
# (`grad(` alone would match every `torch.no_grad(`: only JAX's spellings of it; `optim.` and
# `.compile(` are in most library modules, as type hints and `torch.compile`, and would link
# them for nothing)
LINK_WORDS = ("backward(", ".gradient(", "autograd.grad(", "training_step", "jax.grad(", "nnx.grad(", " grad(",
              "(grad(", "value_and_grad(", ".fit(", "train_on_batch(", "SVI(", "optax.")


_BUILDS_OPTIMIZER = re.compile(r"optim\.[A-Z]\w*\(")  # `torch.optim.SGD(`, not a type hint


def about_training(text: str) -> bool:
    """The text trains or differentiates something: backpropagates, differentiates, fits,
    builds an optimizer (Keras's `compile(loss=...)` counts only in Keras code: elsewhere
    `.compile(` is `torch.compile`)."""
    return any(w in text for w in LINK_WORDS) or (".compile(" in text and "keras" in text) \
        or ("optim." in text and _BUILDS_OPTIMIZER.search(text) is not None)
MAX_FILE_LINES = 1500      # a larger file is neither linked nor given context
MAX_DEFINITION_LINES = 250  # an imported definition longer than this is left out
MAX_CONTEXT_LINES = 600    # the context appended to one file, in all
MAX_CALLERS = 2            # importing files given as context to the file they import from


class _Module:
    """One project file read for linking: text lines, tree, top-level names."""

    def __init__(self, path: str, text: str, tree: ast.Module) -> None:
        self.path, self.lines, self.tree = path, text.splitlines(), tree
        self.trains = about_training(text)
        self.defs: Dict[str, ast.stmt] = {}
        self.imports: List[ast.stmt] = []
        self.assigns: List[ast.stmt] = []
        self.bound: Dict[str, str] = {}  # top-level name -> what binds it ("def", or an import's text)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
                self.bound[node.name] = "def"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports.append(node)
                for a in node.names:
                    self.bound[(a.asname or a.name).split(".")[0]] = self.segment(node)
            elif isinstance(node, ast.Assign):
                self.assigns.append(node)
                for t in node.targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.bound.setdefault(n.id, "assign")

    def segment(self, node: ast.stmt) -> str:
        start = node.lineno
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.decorator_list:
            start = min(d.lineno for d in node.decorator_list)
        return "\n".join(self.lines[start - 1:node.end_lineno])

    def length(self, node: ast.stmt) -> int:
        return (node.end_lineno or node.lineno) - node.lineno + 1


def read_module(path: str) -> Optional[_Module]:
    try:
        data = Path(path).read_bytes()
        text = decode_python(data)
        if text.count("\n") > MAX_FILE_LINES:
            return None
        return _Module(path, text, ast.parse(text))
    except (OSError, SourceError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _names_in(node: ast.AST) -> Set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _one_line(node: ast.stmt, lines: List[str]) -> bool:
    """The statement has its lines to itself (no `a; b` sharing), so it can be blanked."""
    first, last = lines[node.lineno - 1], lines[(node.end_lineno or node.lineno) - 1]
    return first[:node.col_offset].strip() == "" and last[node.end_col_offset:].strip() in ("", "\\") \
        and ";" not in last[node.end_col_offset:]


def link(own: _Module, imported: List[Tuple[ast.ImportFrom, Dict[str, Tuple[str, str]]]],
         importers: List[Tuple[_Module, List[ast.stmt]]], read) -> Optional[Tuple[str, List[list]]]:
    """The context text to append to `own` and the line ranges of `own` to blank (its imports
    of the definitions the context now holds). `imported`: each `from M import X` of `own`
    with, for each name, (the defining file's path, the definition's name); `importers`: files
    importing from `own` with their import statements naming it."""
    parts: List[str] = []
    blank: List[List[int]] = []
    budget = MAX_CONTEXT_LINES
    taken: Set[str] = set(own.bound)
    if own.trains:
        for stmt, names in imported:
            chunk, linked = [], set()
            for local, (path, name) in names.items():
                other = read(path)
                if other is None or name not in other.defs or local != name:
                    continue
                wanted = _closure(other, name)
                if sum(other.length(other.defs[n]) for n in wanted) > min(MAX_DEFINITION_LINES, budget):
                    continue
                for line in _imports_of(other, taken):
                    chunk.append(line)
                for n in sorted(wanted, key=lambda n: other.defs[n].lineno):
                    if n != name and n in taken:
                        continue
                    chunk.append(other.segment(other.defs[n]))
                    taken.add(n)
                    budget -= other.length(other.defs[n])
                linked.add(local)
            if chunk:
                parts.extend(chunk)
            if linked and linked == {a.asname or a.name for a in stmt.names} and _one_line(stmt, own.lines):
                # with the statement's text: an editor's unsaved buffer may differ from the disk
                blank.append([stmt.lineno, stmt.end_lineno or stmt.lineno, own.segment(stmt)])
    for other, stmts in importers[:MAX_CALLERS]:
        if not (own.trains or other.trains) or len(other.lines) > budget:
            continue
        same = {other.segment(n) for n in other.assigns} & {own.segment(n) for n in own.assigns}
        clash = {n for n, how in other.bound.items() if n in own.bound and how in ("def", "assign")}
        if any(not _bound_only_by(other, n, same) for n in clash):
            continue  # the caller's own `train` or `W = ...` would replace this file's
        skip = {id(s) for s in stmts} | {id(n) for n in other.assigns if other.segment(n) in same}
        keep = _slice(other, {a.asname or a.name for s in stmts for a in s.names}, skip)
        body, size = [], 0
        for i, node in enumerate(other.tree.body):
            if id(node) in skip or (i == 0 and _docstring(node)):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [(a.asname or a.name).split(".")[0] for a in node.names]
                if not any(n in taken for n in names):
                    body.append(other.segment(node))
                    taken.update(names)
                continue
            if id(node) in keep:
                body.append(other.segment(node))
                size += other.length(node)
            elif isinstance(node, ast.ClassDef):
                trimmed = _class_slice(other, node, {a.asname or a.name for s in stmts for a in s.names})
                if trimmed:
                    body.append(trimmed)
                    size += trimmed.count("\n") + 1
        if size > budget:
            continue
        parts.extend(body)
        budget -= size
    if not parts:
        return None
    return "\n".join(parts) + "\n", blank


def _slice(other: _Module, names: Set[str], skip: Set[int]) -> Set[int]:
    """The top-level statements of an importing file that use what it imports from the linked
    file (`model = MDN()`, `train(model, x, y)`, a function calling them), what those read of
    the file's own top level (`x = ...`), and what runs the functions picked (`main()`)."""
    # (a class of the importing file that uses ours is more library code: left out; a function
    # only when it trains or differentiates something)
    body = [n for n in other.tree.body if id(n) not in skip and not isinstance(n, (ast.Import, ast.ImportFrom, ast.ClassDef))
            and not (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and not about_training(other.segment(n)))]
    reads = {id(n): _names_in(n) for n in body}
    binds = {id(n): _bound_by_statement(n) | ({t.id for t in ast.walk(n) if isinstance(t, ast.Name)
                                               and isinstance(t.ctx, ast.Store)} if not isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else set()) for n in body}
    keep: Set[int] = set()
    wanted = set(names)
    for _ in range(4):  # users of the imported names, then their inputs and their callers
        added = False
        for n in body:
            if id(n) not in keep and reads[id(n)] & wanted:
                keep.add(id(n))
                added = True
        needed = set().union(*(reads[k] for k in keep)) if keep else set()
        for n in body:
            if id(n) not in keep and binds[id(n)] & needed:
                keep.add(id(n))
                added = True
        wanted |= set().union(*(binds[k] for k in keep)) if keep else set()
        if not added:
            break
    return keep


def _class_slice(other: _Module, node: ast.ClassDef, names: Set[str]) -> Optional[str]:
    """A trainer class of an importing file cut to what matters here: its header, `__init__`
    (what its attributes hold) and the methods that use the imported names and train (an RL
    algorithm's `train()` sampling from our policy), when it has any."""
    def trains(m) -> bool:
        return about_training(other.segment(m))
    methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    used = [m for m in methods if _names_in(m) & names or (trains(m) and m.name != "__init__")]
    if not any(trains(m) for m in used) or not (_names_in(node) & names):
        return None
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    header = "\n".join(other.lines[start - 1:node.body[0].lineno - 1]).rstrip()
    if not header.endswith(":") or sum(other.length(m) for m in used) > MAX_DEFINITION_LINES:
        return None  # (a one-line class, a header this cut would break)
    keep = [m for m in methods if m.name == "__init__"] + [m for m in used if m.name != "__init__"]
    return "\n".join([header, *(other.segment(m) for m in sorted(keep, key=lambda m: m.lineno))])


def _bound_only_by(module: _Module, name: str, statements: Set[str]) -> bool:
    """Every top-level binding of `name` in `module` is one of `statements` (texts)."""
    binders = [n for n in module.tree.body if name in _bound_by_statement(n)]
    return bool(binders) and all(isinstance(n, ast.Assign) and module.segment(n) in statements for n in binders)


def _bound_by_statement(node: ast.stmt) -> Set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _closure(other: _Module, name: str) -> List[str]:
    """`name` and the top-level definitions of its file it reads, transitively."""
    out, todo = [], [name]
    while todo:
        n = todo.pop()
        if n in out or n not in other.defs:
            continue
        out.append(n)
        todo.extend(sorted(_names_in(other.defs[n]) & set(other.defs)))
    return out


def _imports_of(other: _Module, taken: Set[str]) -> List[str]:
    """`other`'s top-level imports whose names do not clash with what is already bound."""
    out = []
    for node in other.imports:
        names = [(a.asname or a.name).split(".")[0] for a in node.names]
        if isinstance(node, ast.ImportFrom) and node.level:
            continue  # a relative import means another package here
        if any(n in taken for n in names):
            continue
        out.append(other.segment(node))
        taken.update(names)
    return out
