"""Linking a file to the project files it works with: the definitions a training script imports
(`from models import Net, train`), and the code of the project files that import from it (the
script that builds `Net()` and calls `train(net, ...)` for the file that defines them).

The engine analyses a file with this context appended after its own last line and keeps only
the findings on its own lines, so every analysis (sources, flow, summaries, objects, contexts)
crosses the file boundary the way it crosses a function's: `train(model, ...)` in `lib.py`
knows `model` is an `MDN` because `main.py` passes one, and `jax.grad(loss)` in `main.py`
knows `loss`'s parameters because `lib.py` defines it. Only files about training are linked
(see `about_training`), within size caps, so a library's modules are analysed as before.
A module imported whole (`import models`; `models.fit(...)`) is linked like a name imported
from it, and a file two files away from training code (a helper used by a library file that a
training file imports) is linked through that middle file (`Caller.next`), no further.

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


class Caller:
    """A project file importing from the linked one: its import statements naming that file,
    the dotted prefixes under which it uses the file as a module (`import models` ->
    `models`, `import pkg.models as m` -> `m`), its own module name (its relative imports and
    base classes are spelled from it in a chain) and, for a chain, the training files that
    import from it in turn."""

    def __init__(self, module: _Module, stmts: List[ast.stmt], prefixes: Set[str], name: str = "",
                 next_: Optional[List["Caller"]] = None) -> None:
        self.module, self.stmts, self.prefixes, self.name = module, stmts, prefixes, name
        self.next = next_ or []

    def names(self) -> Set[str]:
        return {a.asname or a.name for s in self.stmts if isinstance(s, ast.ImportFrom) for a in s.names}


def link(own: _Module, imported: List[Tuple[ast.ImportFrom, Dict[str, Tuple[str, str]]]],
         importers: List[Caller], read, modules: Optional[List[Tuple[str, str]]] = None
         ) -> Optional[Tuple[str, List[list], List[list]]]:
    """The context text to append to `own`, the line ranges of `own` to blank (its imports of
    the definitions the context now holds) and the uses of `own` to rewrite ([line, column,
    text, replacement]: `models.Net` read as `Net` padded to the same length, so every
    position stays). `imported`: each `from M import X` of `own` with, for each name, (the
    defining file's path, the definition's name); `modules`: (prefix, path) of the project
    modules `own` imports as modules (`import models`); `importers`: files importing from
    `own`, chains of two files included (`Caller`)."""
    parts: List[str] = []
    blank: List[List[int]] = []
    rewrites: List[list] = []
    budget = MAX_CONTEXT_LINES
    taken: Set[str] = set(own.bound)
    if own.trains:
        for stmt, names in imported:
            linked = set()
            for local, (path, name) in names.items():
                other = read(path)
                if other is None or name not in other.defs or local != name:
                    continue
                chunk = _definitions(other, name, taken, budget)
                if chunk is not None:
                    parts.append(chunk[0])
                    budget -= chunk[1]
                    linked.add(local)
            if linked and linked == {a.asname or a.name for a in stmt.names} and _one_line(stmt, own.lines):
                # with the statement's text: an editor's unsaved buffer may differ from the disk
                blank.append([stmt.lineno, stmt.end_lineno or stmt.lineno, own.segment(stmt)])
        used = _identifiers(own) if modules else set()
        for prefix, path in modules or ():
            other = read(path)
            if other is None:
                continue
            uses = _module_uses(own, {prefix}, set(other.defs))
            for name in sorted({u[3].strip() for u in uses}):
                # a name the file binds or uses itself would be read as this definition
                if name in used or name in taken:
                    continue
                chunk = _definitions(other, name, taken, budget)
                if chunk is not None:
                    parts.append(chunk[0])
                    budget -= chunk[1]
                    rewrites.extend(list(u) for u in uses if u[3].strip() == name)
    for caller in importers[:MAX_CALLERS]:
        other = caller.module
        chained = not (own.trains or other.trains)
        if chained and not caller.next:
            continue
        other, names = _as_names(other, caller.prefixes, set(own.defs), caller.names())
        if not chained:
            body = _importer_part(other, caller.stmts, names, own.bound, {own.segment(n) for n in own.assigns},
                                  taken, budget)
            if body is not None:
                parts.append(body[0])
                budget -= body[1]
            continue
        # A chain (`distributions.py` <- `policies.py` <- the algorithm that trains): the
        # definitions of the middle file that use ours, then what the training files make of them.
        middle = _library_part(other, names, caller.name, own, taken)
        if middle is None or middle[1] > budget:
            continue
        text, size, provided, local_taken = middle
        bound = dict(own.bound)
        bound.update({n: "def" for n in provided})
        chain = []
        for far in caller.next[:MAX_CALLERS]:
            far_module, far_names = _as_names(far.module, far.prefixes, provided, far.names())
            if not far.module.trains or not (far_names & provided or _imported_as(far, provided)):
                continue
            body = _importer_part(far_module, far.stmts, far_names, bound, {own.segment(n) for n in own.assigns},
                                  local_taken, budget - size, needs_body=True)
            if body is not None:
                chain.append(body[0])
                size += body[1]
        if chain and size <= budget:
            parts.append(text)
            parts.extend(chain)
            taken |= local_taken
            budget -= size
    if not parts:
        return None
    return "\n".join(parts) + "\n", blank, rewrites


def _definitions(other: _Module, name: str, taken: Set[str], budget: int) -> Optional[Tuple[str, int]]:
    """`name`'s definition in `other` with the definitions it reads there and `other`'s imports
    (text, lines of definitions), or None when over the caps."""
    wanted = _closure(other, name)
    if sum(other.length(other.defs[n]) for n in wanted) > min(MAX_DEFINITION_LINES, budget):
        return None
    chunk = list(_imports_of(other, taken))
    size = 0
    for n in sorted(wanted, key=lambda n: other.defs[n].lineno):
        if n != name and n in taken:
            continue
        chunk.append(other.segment(other.defs[n]))
        taken.add(n)
        size += other.length(other.defs[n])
    return "\n".join(chunk), size


def _importer_part(other: _Module, stmts: List[ast.stmt], names: Set[str], bound: Dict[str, str],
                   assign_texts: Set[str], taken: Set[str], budget: int, needs_body: bool = False
                   ) -> Optional[Tuple[str, int]]:
    """The slice of an importing file that uses `names` (text, lines), or None when it
    would rebind a name of the linked file or exceed `budget`; `taken` gains its imports."""
    if len(other.lines) > budget:
        return None
    same = {other.segment(n) for n in other.assigns} & assign_texts
    clash = {n for n, how in other.bound.items() if n in bound and how in ("def", "assign")}
    if any(not _bound_only_by(other, n, same) for n in clash):
        return None  # the caller's own `train` or `W = ...` would replace the linked file's
    skip = {id(s) for s in stmts} | {id(n) for n in other.assigns if other.segment(n) in same}
    keep = _slice(other, names, skip)
    body, size, added = [], 0, []
    for i, node in enumerate(other.tree.body):
        if id(node) in skip or (i == 0 and _docstring(node)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bind = [(a.asname or a.name).split(".")[0] for a in node.names]
            if not any(n in taken or n in added for n in bind):
                body.append(other.segment(node))
                added.extend(bind)
            continue
        if id(node) in keep:
            body.append(other.segment(node))
            size += other.length(node)
        elif isinstance(node, ast.ClassDef):
            trimmed = _class_slice(other, node, names)
            if trimmed:
                body.append(trimmed)
                size += trimmed.count("\n") + 1
    if size > budget or (needs_body and size == 0):
        return None
    taken.update(added)
    return "\n".join(body), size


def _library_part(other: _Module, names: Set[str], module_name: str, own: _Module, taken: Set[str]):
    """The middle file of a chain: its top-level functions and classes that use `names` (a
    class over the definition cap cut to `__init__` and the methods that read the linked names
    or the attributes set from them), with its imports (relative ones spelled absolutely, so
    they resolve from the linked file) and an import of its own base classes. Returns (text,
    lines, the names it defines, `taken` with its imports) or None."""
    local_taken = set(taken)
    pieces, size, provided = [], 0, set()
    for node in other.tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or not (_names_in(node) & names):
            continue
        if node.name in own.bound:
            return None  # it would replace a definition of the linked file
        if other.length(node) <= MAX_DEFINITION_LINES:
            pieces.append(other.segment(node))
        elif isinstance(node, ast.ClassDef):
            trimmed = _class_part(other, node, names)
            if trimmed is None:
                continue
            pieces.append(trimmed)
        else:
            continue
        provided.add(node.name)
        size += pieces[-1].count("\n") + 1
    if not pieces or size > MAX_DEFINITION_LINES * 2:
        return None
    package = module_name if other.path.endswith("__init__.py") else module_name.rpartition(".")[0]
    head = []
    for node in other.imports:
        bind = [(a.asname or a.name).split(".")[0] for a in node.names]
        if any(n in local_taken for n in bind) or any(a.name == "*" for a in node.names):
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = package.split(".") if package else []
            base = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
            if len(base) < node.level - 1 or not base and not node.module:
                continue
            module = ".".join(base + ([node.module] if node.module else []))
            head.append(f"from {module} import " + ", ".join(
                a.name + (f" as {a.asname}" if a.asname else "") for a in node.names))
        elif not (isinstance(node, ast.ImportFrom) and node.module is None):
            head.append(other.segment(node))
        local_taken.update(bind)
    # base classes the middle file defines itself and leaves out: imported from it, so the
    # project index says what they derive from
    bases = sorted({b.id for n in other.tree.body if isinstance(n, ast.ClassDef) and n.name in provided
                    for b in n.bases if isinstance(b, ast.Name) and b.id in other.defs and b.id not in provided})
    bases = [b for b in bases if b not in local_taken]
    if bases and module_name:
        head.append(f"from {module_name} import {', '.join(bases)}")
        local_taken.update(bases)
    local_taken |= provided
    return "\n".join(head + pieces), size, provided, local_taken


def _class_part(other: _Module, node: ast.ClassDef, names: Set[str]) -> Optional[str]:
    """A library class cut to its header, `__init__` and the methods that read `names` or the
    `self` attributes assigned from them (`self.dist = Normal(...)` then `self.dist.sample()`)."""
    methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    attrs = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Assign) and _names_in(n.value) & names:
            attrs |= {t.attr for t in n.targets if isinstance(t, ast.Attribute)}
    def reads(m) -> bool:
        return bool(_names_in(m) & names) or any(isinstance(a, ast.Attribute) and a.attr in attrs for a in ast.walk(m))
    keep = [m for m in methods if m.name == "__init__" or reads(m)]
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    header = "\n".join(other.lines[start - 1:node.body[0].lineno - 1]).rstrip()
    if not header.endswith(":") or sum(other.length(m) for m in keep) > MAX_DEFINITION_LINES:
        return None
    return "\n".join([header, *(other.segment(m) for m in sorted(keep, key=lambda m: m.lineno))])


def _imported_as(caller: Caller, provided: Set[str]) -> bool:
    return any(a.name in provided for s in caller.stmts if isinstance(s, ast.ImportFrom) for a in s.names)


def _dotted(expr: ast.expr) -> Optional[str]:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def _identifiers(module: _Module) -> Set[str]:
    """Every name `module` binds or reads, anywhere (parameters, locals, globals)."""
    _scan(module)
    return module.__dict__["_identifiers"]


def _scan(module: _Module) -> None:
    """One walk of the module's tree for what linking asks of it again and again (a module is
    read once per run and asked by every file linked to it): its identifiers, and its dotted
    attribute reads (`models.fit`) by prefix."""
    if "_identifiers" in module.__dict__:
        return
    names = set(module.bound)
    dotted: Dict[str, List[ast.Attribute]] = {}
    for n in ast.walk(module.tree):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.Attribute) and n.end_lineno == n.lineno:
            head = _dotted(n.value)
            if head is not None:
                dotted.setdefault(head, []).append(n)
    module.__dict__["_identifiers"] = names
    module.__dict__["_dotted"] = dotted


def _module_uses(module: _Module, prefixes: Set[str], defs: Set[str]) -> List[Tuple[int, int, str, str]]:
    """(line, column, `models.Net`, `Net` padded with spaces to the same length) for each use of
    a definition in `defs` through a module prefix (`models`, `m`, `pkg.models`)."""
    out = []
    if not prefixes:
        return out
    heads = {p.split(".")[0] for p in prefixes}
    if not any(h in module.bound for h in heads):
        return out
    _scan(module)
    for head in sorted(prefixes):
        for node in module.__dict__["_dotted"].get(head, ()):
            if node.attr not in defs:
                continue
            line = module.lines[node.lineno - 1]
            raw = line.encode("utf-8")
            start = len(raw[:node.col_offset].decode("utf-8", "replace"))
            end = len(raw[:node.end_col_offset].decode("utf-8", "replace"))
            old = line[start:end]
            if old == f"{head}.{node.attr}":  # (`models . Net` over two tokens: left as it is)
                out.append((node.lineno, start, old, node.attr.ljust(len(old))))
    return sorted(out)


def _as_names(other: _Module, prefixes: Set[str], defs: Set[str], names: Set[str]) -> Tuple[_Module, Set[str]]:
    """`other` with its uses of the linked file as a module (`models.fit(...)`) read as plain
    names (`fit(...)`), and `names` with those names added. A name `other` binds or uses
    itself is left as it was."""
    uses = _module_uses(other, prefixes, defs)
    if not uses:
        return other, names
    used = _identifiers(other)
    uses = [u for u in uses if u[3].strip() not in used]
    if not uses:
        return other, names
    lines = list(other.lines)
    for lineno, start, old, new in uses:
        line = lines[lineno - 1]
        lines[lineno - 1] = line[:start] + new + line[start + len(old):]
    copy = object.__new__(_Module)
    copy.__dict__.update(other.__dict__)
    copy.lines = lines
    # (the prefix's head too: the slices are chosen by the names the tree reads)
    return copy, names | {u[3].strip() for u in uses} | {p.split(".")[0] for p in prefixes}


def _slice(other: _Module, names: Set[str], skip: Set[int]) -> Set[int]:
    """The top-level statements of an importing file that use what it imports from the linked
    file (`model = MDN()`, `train(model, x, y)`, a function calling them), what those read of
    the file's own top level (`x = ...`), and what runs the functions picked (`main()`)."""
    # (a class of the importing file that uses ours is more library code: left out; a function
    # as a user only when it trains or differentiates something, and as an input when a kept
    # statement reads it: the loss `jax.grad(nll)` differentiates)
    body = [n for n in other.tree.body if id(n) not in skip and not isinstance(n, (ast.Import, ast.ImportFrom, ast.ClassDef))
            and not (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_test(n))]
    # ... or when a statement that trains reads it (`grads = jax.grad(nll)(params, x, y)`)
    trained_reads = set().union(*(_names_in(n) for n in body if about_training(other.segment(n)))) if body else set()
    input_only = {id(n) for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and not about_training(other.segment(n)) and n.name not in trained_reads}
    reads = {id(n): _names_in(n) for n in body}
    binds = {id(n): _bound_by_statement(n) | ({t.id for t in ast.walk(n) if isinstance(t, ast.Name)
                                               and isinstance(t.ctx, ast.Store)} if not isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else set()) for n in body}
    keep: Set[int] = set()
    wanted = set(names)
    for _ in range(4):  # users of the imported names, then their inputs and their callers
        added = False
        for n in body:
            if id(n) not in keep and id(n) not in input_only and reads[id(n)] & wanted:
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
    if is_test(node):
        return None
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


def is_test(node: ast.stmt) -> bool:
    """A test (a `unittest` test case, a pytest `test_` function): its training steps check
    what the code does, often that a cut holds (one step on one head, then "the other head's
    weights are unchanged"); they are not the training the linked file serves."""
    if isinstance(node, ast.ClassDef):
        return any((_dotted(b) or "").rpartition(".")[2].endswith("TestCase") for b in node.bases)
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")


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
