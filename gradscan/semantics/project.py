"""The project index: every class of the scanned project with its bases, by module path.

It lets `class Block(BaseBlock)` be known as a torch module when `BaseBlock(nn.Module)` lives
in another file. It is built with the standard library's `ast` (a tenth of libcst's parse
time) from class and import statements only, and cached by file size and mtime, so pre-commit
runs on one file still see the whole project cheaply.
"""
from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

from gradscan.files.source import SourceError, decode_python
from gradscan.semantics.index_summaries import CUT_WORDS, returns_cut
from gradscan.semantics.linking import MAX_CALLERS, about_training, is_test

INDEX_VERSION = 9
REWRITE_MIN_CHANGES = 8
MAX_CHAIN_FILES = 4  # files importing the linked one (and files importing those) tried for a chain  # index.json is rewritten when more entries than this (or 2%) changed
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def project_root(path: Path) -> Optional[Path]:
    start = path if path.is_dir() else path.parent
    for folder in [start, *start.parents]:
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return None


def module_names(file: Path, root: Path, packages: Optional[Dict[Path, List[str]]] = None) -> List[str]:
    """Dotted names a file is importable as: its `__init__.py` chain, and its path under the root
    (with a `src/` layout folder stripped). `packages` memoizes the chain per folder (one index
    build: a stat per folder instead of several per file)."""
    names = []
    stem = [] if file.name == "__init__.py" else [file.stem]
    parts = _package_parts(file.parent, packages)
    chain = ".".join(parts + stem)
    if chain:
        names.append(chain)
    try:
        rel = file.relative_to(root).with_suffix("")
    except ValueError:
        return names
    rel_parts = list(rel.parts)
    if rel_parts and rel_parts[0] == "src":
        rel_parts = rel_parts[1:]
    if rel_parts and rel_parts[-1] == "__init__":
        rel_parts = rel_parts[:-1]
    dotted = ".".join(rel_parts)
    if dotted and dotted not in names:
        if file.name != "__init__.py" and not _package_parts(file.parent, packages):
            names.insert(0, dotted)  # a namespace package: its relative imports go by the path
        else:
            names.append(dotted)
    return names


def _package_parts(folder: Path, memo: Optional[Dict[Path, List[str]]]) -> List[str]:
    """The package names from the outermost folder with an `__init__.py` down to `folder`."""
    if memo is not None and folder in memo:
        return memo[folder]
    if (folder / "__init__.py").exists() and folder != folder.parent:
        parts = _package_parts(folder.parent, memo) + [folder.name]
    else:
        parts = []
    if memo is not None:
        memo[folder] = parts
    return parts


def _absolute(module: Optional[str], level: int, package: str) -> str:
    if level == 0:
        return module or ""
    base = package.split(".")
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([p for p in base if p] + ([module] if module else []))


def _module_statements(body) -> Iterable[ast.stmt]:
    """Module-scope statements, also those under `if`/`try`/`with` (`if is_torch_available():`)."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
            # A handler's fallback first, so that `try: import tf_keras` / `except ImportError:
            # import tensorflow.keras as tf_keras` binds what runs when the package is there.
            for handler in getattr(node, "handlers", []):
                yield from _module_statements(handler.body)
            yield from _module_statements(node.body)
            yield from _module_statements(getattr(node, "orelse", []))
            yield from _module_statements(getattr(node, "finalbody", []))


def _import_bindings(node, package: str) -> Iterable[tuple]:
    if isinstance(node, ast.Import):
        for a in node.names:
            yield (a.asname or a.name.split(".")[0]), (a.name if a.asname else a.name.split(".")[0])
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, package)
        for a in node.names:
            if a.name != "*":
                yield (a.asname or a.name), (f"{base}.{a.name}" if base else a.name)


def summarize(text: str, module: str, is_package: bool) -> Optional[dict]:
    """Classes (bases as qualified names, `self` attributes read, method names), the names the
    module binds by import or simple alias (`Base = nn.Module`), and its star imports."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    package = module if is_package else module.rpartition(".")[0]
    names: Dict[str, str] = {}
    stars: List[str] = []
    statements = list(_module_statements(tree.body)) if isinstance(tree, ast.Module) else []
    for node in statements:  # the module's own imports and aliases, in order
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(_import_bindings(node, package))
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                stars.append(_absolute(node.module, node.level, package))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _dotted(node.value)
            if value and "." in value and value.partition(".")[0] in names:
                names[node.targets[0].id] = _qualify(node.value, names, module)
    # (Imports inside functions are left out: they neither name a module-level class's bases
    # nor re-export anything, and walking every function body would double the index's cost.)
    lines = text.splitlines()
    classes = {}
    for node in statements:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {
                "bases": [_qualify(b, names, module) for b in node.bases],
                "reads": _self_reads(node, lines),
                "methods": sorted(n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
            }
    local = {n: q for n, q in names.items()}
    summary = {"classes": classes, "names": local, "stars": stars}
    # `import pkg.models` binds `pkg` only: the module it names, for linking (`pkg.models.fit(...)`)
    dotted_imports = sorted({a.name for node in statements if isinstance(node, ast.Import)
                             for a in node.names if a.asname is None and "." in a.name})
    if dotted_imports:
        summary["imports"] = dotted_imports
    if about_training(text):
        summary["links"] = True
    if any(word in text for word in _TRAINING_WORDS):
        trains = trained_calls(tree, names)
        if trains:
            summary["trains"] = trains
    if any(word in text for word in CUT_WORDS):
        cuts = returns_cut(tree, names, lines)
        if cuts:
            summary["returns"] = cuts
    return summary


# ---- calls that training code makes into other modules ----------------------------------------
# The index keeps call edges, not gradient facts: which imported functions a training function
# (one that backpropagates) calls to compute the value it backpropagates. The file that
# defines such a function then analyses it as a root (its return reaches a backward elsewhere).
_TRAINING_WORDS = ("backward(", ".gradient(", "autograd.grad(", "training_step")
_BACKWARD_METHODS = {"backward": "torch", "manual_backward": "torch"}


def trained_calls(tree: ast.AST, names: Dict[str, str]) -> List[List[str]]:
    """[qualified name, framework] of the imported functions whose results feed what a function
    (or the module's own code) of `tree` backpropagates: found by following the names of the
    backpropagated expression back through the assignments of the same body."""
    out: Set[Tuple[str, str]] = set()
    # A test (a pytest `test_` function, a `unittest` case) that backpropagates checks what the
    # code does (often that a cut holds); it is not the training its callees serve.
    in_tests = {id(f) for t in ast.walk(tree) if is_test(t) for f in ast.walk(t)}
    bodies = [(None, [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))])]
    bodies += [(n, n.body) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(n) not in in_tests]
    for fn, body in bodies:
        nodes = [n for stmt in body for n in _walk_body(stmt)]
        losses: List[Tuple[ast.expr, str]] = []
        for n in nodes:
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                attr = n.func.attr
                if attr == "backward" and not n.args:
                    losses.append((n.func.value, "torch"))
                elif attr in _BACKWARD_METHODS and n.args:
                    losses.append((n.args[0].value if isinstance(n.args[0], ast.Starred) else n.args[0], "torch"))
                elif attr == "gradient" and n.args:
                    losses.append((n.args[0], "tensorflow"))
                elif attr == "grad" and n.args and _dotted(n.func) in ("torch.autograd.grad", "autograd.grad"):
                    losses.append((n.args[0], "torch"))
            if fn is not None and fn.name == "training_step" and isinstance(n, ast.Return) and n.value is not None:
                losses.append((n.value, "torch"))  # Lightning backpropagates what training_step returns
        if not losses:
            continue
        assigns = []
        for n in nodes:
            if isinstance(n, ast.Assign):
                assigns.append(({t.id for tgt in n.targets for t in ast.walk(tgt) if isinstance(t, ast.Name)}, n.value))
            elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and n.value is not None:
                assigns.append(({t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}, n.value))
        for expr, framework in losses:
            wanted = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
            exprs = [expr]
            done: Set[int] = set()
            changed = True
            while changed:  # the names the backpropagated value is computed from, transitively
                changed = False
                for i, (targets, value) in enumerate(assigns):
                    if i not in done and targets & wanted:
                        done.add(i)
                        exprs.append(value)
                        wanted |= {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
                        changed = True
            data = _data_names(fn, body)
            for e in exprs:
                for call in ast.walk(e):
                    if isinstance(call, ast.Call):
                        text = _dotted(call.func)
                        head, _, rest = (text or "").partition(".")
                        if head in names:
                            live = []
                            for i, a in enumerate(call.args):
                                if isinstance(a, ast.Starred):
                                    break  # later positions are unknown
                                if _computed(a, assigns, data, names):
                                    live.append(str(i))
                            live += [k.arg for k in call.keywords if k.arg and _computed(k.value, assigns, data, names)]
                            out.add((f"{names[head]}.{rest}" if rest else names[head], framework, tuple(live)))
    return [[q, f, list(live)] for q, f, live in sorted(out)]


# Methods that move or re-type a value without computing anything from weights (`y.to(device)`).
_DATA_METHODS = {
    "to", "cuda", "cpu", "float", "double", "half", "long", "int", "bool", "squeeze", "unsqueeze",
    "view", "reshape", "permute", "contiguous", "flatten", "transpose", "type", "clone", "numpy",
}


def _data_names(fn, body) -> Set[str]:
    """Names bound only to data in a training body: its parameters and `for` loop targets."""
    out: Set[str] = set()
    if fn is not None:
        a = fn.args
        out |= {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
    for stmt in body:
        for n in _walk_body(stmt):
            if isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
                out |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
    return out


def _computed(expr: ast.expr, assigns, data: Set[str], imported: Dict[str, str], depth: int = 0) -> bool:
    """Whether an argument of a training body is computed by calling something (`model(x)`,
    `self.head(h)`, a name assigned from such a call) rather than read from data (loop
    variables, parameters, literals and their `.to(device)` copies). The index records only
    which arguments are computed: which of them carry a gradient is the engine's question."""
    if depth > 6:
        return True
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _DATA_METHODS:
                continue
            text = _dotted(func) or ""
            head = text.partition(".")[0]
            if head in imported and head not in data:
                continue  # `torch.randn(...)`, `F.one_hot(y)`: a library function of data
            return True
        if isinstance(node, ast.Name) and node.id not in data:
            for targets, value in assigns:
                if node.id in targets and _computed(value, assigns, data | {node.id}, imported, depth + 1):
                    return True
    return False


def _walk_body(stmt: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a statement, without descending into nested functions and classes."""
    todo = [stmt]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                todo.append(child)


def _dotted(expr: ast.expr) -> Optional[str]:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


def _qualify(expr: ast.expr, names: Dict[str, str], module: str) -> str:
    if isinstance(expr, ast.Subscript):  # PyroModule[nn.Linear], Generic[T]
        expr = expr.value
    text = _dotted(expr) or "?"
    head, _, rest = text.partition(".")
    if head in names:
        full = names[head]
        return f"{full}.{rest}" if rest else full
    return f"{module}.{text}"  # a class of the same module (or an unknown builtin)


_READ = re.compile(r"""\.([A-Za-z_]\w*)\b(?!\s*=(?!=))|["']([A-Za-z_]\w*)["']""")


def _self_reads(cls: ast.ClassDef, lines: List[str]) -> List[str]:
    """Attribute names a class reads (`x.scale`, not `x.scale = ...`) and identifier-like strings
    (`getattr(self, "scale")`, state-dict keys), from its source text: a regular expression is a
    fraction of the cost of walking the tree, and its few extra names only make rules quieter."""
    start = cls.lineno - 1 - len(cls.decorator_list)
    segment = "\n".join(lines[max(start, 0): getattr(cls, "end_lineno", None) or len(lines)])
    reads: Set[str] = set()
    for attr, string in _READ.findall(segment):
        reads.add(attr or string)
    return sorted(reads)


# `names.canonical` folds some packages' internal paths onto their public names; when the
# project scanned is that package, its classes are found again by the inverse. (A lookup per
# candidate, never a scan of the index: the results cache records each lookup a verdict made.)
# Resolution steps one question may take. Star imports that chain through packages which are
# only partly present (a sample of a project) grow ever longer paths: without a bound, asking
# for one base took hours (six star imports per module, nine levels deep).
RESOLVE_BUDGET = 20000  # the most a real question took on the corpus: ~2,200 (transformers.__init__)
_BUDGET = object()

_UNCANONICAL = [
    (re.compile(r"^tensorflow_probability\.(?!python\.)"), "tensorflow_probability.python."),
    (re.compile(r"^pytorch_lightning\."), "lightning.pytorch."),
]


class ProjectIndex:
    """Module path -> summary. A path two different files claim (`utils.py` beside two scripts)
    is ambiguous and maps to None: which one an import means depends on `sys.path`."""

    def __init__(self) -> None:
        self.modules: Dict[str, Optional[dict]] = {}
        self._owners: Dict[str, object] = {}
        self.files: Dict[str, List[str]] = {}  # resolved file path -> its module names
        # resolved file path -> [mtime_ns, size] at which Python's parser accepted the whole file:
        # a hint to the engine, not an input of any verdict (private: the results cache does
        # not record reads of it)
        self._python_accepted: Dict[str, List[int]] = {}

    def module_names_of(self, file: Path) -> Optional[List[str]]:
        return self.files.get(str(file))

    def accepted_by_python(self, file: Path, size: int) -> bool:
        """Whether building the index parsed `file`, as it still is on disk, with Python's parser
        (the engine then need not parse it with `ast` a second time)."""
        stamp = self._python_accepted.get(str(file))
        if stamp is None or stamp[1] != size:
            return False
        try:
            st = file.stat()
        except OSError:
            return False
        return [st.st_mtime_ns, st.st_size] == stamp

    def add(self, names: Iterable[str], summary: dict, owner: object = None) -> None:
        owner = owner if owner is not None else id(summary)
        for name in names:
            if name in self._owners and self._owners[name] != owner:
                self.modules[name] = None
                continue
            self._owners[name] = owner
            self.modules[name] = summary

    def class_entry(self, qname: str, depth: int = 0, _memo: Optional[dict] = None) -> Optional[dict]:
        """The summary of project class `qname`, following re-exports (`from .layers import
        Block` or `from .layers import *` in a package's `__init__.py`)."""
        if depth > 8 or "." not in qname:
            return None
        # Star imports branch at every step: without a memo (per top-level call, so that the
        # results cache still sees every lookup of every file) chains of packages that star-
        # import each other take exponential time.
        if _memo is None:
            _memo = {_BUDGET: RESOLVE_BUDGET}
        key = (qname, depth)
        if key in _memo:
            return _memo[key]
        _memo[_BUDGET] -= 1
        if _memo[_BUDGET] < 0:
            return None  # unknown: rules stay silent on unknown
        _memo[key] = None  # a cycle back to this very question finds nothing
        found = _memo[key] = self._class_entry(qname, depth, _memo)
        return found

    def _class_entry(self, qname: str, depth: int, _memo: dict) -> Optional[dict]:
        from gradscan.semantics.names import canonical

        module, _, name = qname.rpartition(".")
        summary = self.modules.get(module)
        if summary is None or (name not in summary["classes"] and name not in summary["names"] and not summary.get("stars")):
            # Names given canonical (`tensorflow_probability.python.x.Y` is resolved as
            # `tensorflow_probability.x.Y`): find the project path they came from.
            for pattern, repl in _UNCANONICAL:
                raw = pattern.sub(repl, qname, count=1)
                if raw != qname:
                    return self.class_entry(raw, depth + 1, _memo)
            if summary is None:
                return None
        if name in summary["classes"]:
            return summary["classes"][name]
        target = summary["names"].get(name)
        if target and target != qname:
            # The raw path first: canonical names fold re-exports back onto the package
            # (`pyro.distributions.torch_transform.X` -> `pyro.distributions.X`), which would
            # lead straight back here when the package itself is scanned.
            entry = self.class_entry(target, depth + 1, _memo)
            if entry is None and canonical(target) not in (target, qname):
                entry = self.class_entry(canonical(target), depth + 1, _memo)
            return entry
        if target is None:
            for star in summary.get("stars", ()):
                entry = self.class_entry(f"{star}.{name}", depth + 1, _memo)
                if entry is not None:
                    return entry
        return None

    def bases(self, qname: str) -> Optional[List[str]]:
        """The bases of project class `qname` (canonical names); for a project name that only
        re-exports an outside one (`compat.py` doing `import torch.nn as nn`, a shim doing
        `from tf_keras import *`), that outside name; None when `qname` is not the project's."""
        from gradscan.semantics.names import canonical

        # Asked again and again for the same bases (every file of a package subclasses the
        # same few), and a star-import chain can cost thousands of steps: answered once per
        # run. (The results cache records the answer, see `gradscan.cache.QUERIES`.)
        memo = self.__dict__.setdefault("_bases", {})
        if qname in memo:
            found = memo[qname]
            return list(found) if found is not None else None
        entry = self.class_entry(qname)
        if entry:
            found = [canonical(b) for b in entry["bases"]]
        else:
            outside = self.outside_name(qname)
            found = [canonical(outside)] if outside else None
        memo[qname] = found
        return list(found) if found is not None else None

    def _module_prefix(self, qname: str):
        parts = qname.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:i])
            if module in self.modules:
                return module, parts[i:]
        return None, parts

    def outside_name(self, qname: str, depth: int = 0, _memo: Optional[dict] = None) -> Optional[str]:
        """The name outside the project that project path `qname` re-exports, following
        imports, aliases and star imports (the first star import whose module is not the
        project's wins: in `if legacy: from tf_keras import * else: from keras import *`,
        the first branch). None for a project class, an unknown name, or a path outside."""
        if depth > 8:
            return None
        if _memo is None:  # as in class_entry: star imports would make this exponential
            answers = self.__dict__.setdefault("_outside_answers", {})
            if qname not in answers:  # each question from the top once per index (same budget, same answer)
                answers[qname] = self.outside_name(qname, 0, {_BUDGET: RESOLVE_BUDGET})
            return answers[qname]
        key = (qname, depth)
        if key in _memo:
            return _memo[key]
        _memo[_BUDGET] -= 1
        if _memo[_BUDGET] < 0:
            return None
        _memo[key] = None
        found = _memo[key] = self._outside_name(qname, depth, _memo)
        return found

    def _outside_name(self, qname: str, depth: int, _memo: dict) -> Optional[str]:
        module, rest = self._module_prefix(qname)
        if module is None:
            return None
        summary = self.modules[module]
        if summary is None or not rest or rest[0] in summary["classes"]:
            return None
        target = summary["names"].get(rest[0])
        candidates = [target] if target is not None else list(summary.get("stars", ()))
        if target is None:
            # A star import re-exports what its module defines: a project module that is not in
            # the index (a partial checkout) answers nothing, else the path only grows
            # (`pkg.sub.X` -> `pkg.sub.sub.X` -> ...) under the package that is.
            candidates = [f"{star}.{rest[0]}" for star in candidates
                          if star in self.modules or self._module_prefix(star)[0] is None]
        for base in candidates:
            full = ".".join([base, *rest[1:]])
            if full == qname:
                continue
            if self._module_prefix(full)[0] is None:
                return full
            found = self.outside_name(full, depth + 1, _memo)
            if found is not None:
                return found
        return None

    def subclasses_reads(self, qname: str) -> Set[str]:
        """Attributes read by project classes deriving (directly or not) from `qname`."""
        # The answer depends on every class of the project: `len` marks that for the results
        # cache (gradscan.cache records what a file's check read from the index).
        len(self.modules)
        memo = self.__dict__.setdefault("_subclass_reads", {})
        found = memo.get(qname)
        if found is None:
            found = memo[qname] = self._collect_subclass_reads(qname)
        return set(found)

    def _collect_subclass_reads(self, qname: str) -> Set[str]:
        """The same answer as asking `_derives(C, qname)` of every project class C, without
        resolving the bases of every class: a class can derive from `qname` only through a base
        whose last name part is the last part of `qname` or of a subclass found so far, or a
        name the project binds to one of those (`Base = nn.Module`, `import X as Y`): resolving
        bases (`bases`, `class_entry`, `canonical`) keeps the last part of a name except through
        such bindings. Only those candidates are checked, exactly."""
        by_short, renames = self._subclass_helpers()
        shorts: Set[str] = set()

        def add(short: str) -> List[str]:
            new = []
            stack = [short]
            while stack:
                s = stack.pop()
                if s not in shorts:
                    shorts.add(s)
                    new.append(s)
                    stack.extend(renames.get(s, ()))
            return new

        bases_of: Dict[str, List[str]] = self.__dict__.setdefault("_bases_memo", {})

        def bases(name: str) -> List[str]:
            found = bases_of.get(name)
            if found is None:
                found = bases_of[name] = self.bases(name) or []
            return found

        def derives(cls: str) -> bool:
            seen: Set[str] = set()
            frontier = [cls]
            for _hop in range(9):  # as `_derives`: at most nine bases up
                step = []
                for c in frontier:
                    for base in bases(c):
                        if base == qname:
                            return True
                        if base not in seen:
                            seen.add(base)
                            step.append(base)
                if not step:
                    return False
                frontier = step
            return False

        reads: Set[str] = set()
        checked: Set[str] = set()
        todo = add(qname.rpartition(".")[2])
        while todo:
            short = todo.pop()
            for module, name, entry in by_short.get(short, ()):
                key = f"{module}.{name}"
                if key in checked:
                    continue
                checked.add(key)
                if derives(key):
                    reads.update(entry["reads"])
                    todo.extend(add(name))
        return reads

    def _subclass_helpers(self):
        """(last part of a raw base name -> the classes naming it, last part of a bound target
        -> the names bound to it), built once per index."""
        helpers = self.__dict__.get("_subclass_index")
        if helpers is None:
            by_short: Dict[str, List[tuple]] = {}
            renames: Dict[str, Set[str]] = {}
            for module, summary in dict.items(self.modules):
                if not summary:
                    continue
                for name, entry in summary.get("classes", {}).items():
                    for base in set(b.rpartition(".")[2] for b in entry["bases"]):
                        by_short.setdefault(base, []).append((module, name, entry))
                for local, target in summary.get("names", {}).items():
                    last = target.rpartition(".")[2]
                    if last != local:
                        renames.setdefault(last, set()).add(local)
            helpers = self._subclass_index = (by_short, renames)
        return helpers

    def trained_functions(self, module: str) -> Dict[str, str]:
        """Functions of `module` that training code in other project files calls on the way to
        what it backpropagates: name -> [framework ("torch", "tensorflow"), the arguments some
        call computes rather than reads from data (positions as strings, keywords)]."""
        # Depends on every module's calls (`len` marks that for the results cache).
        len(self.modules)
        index = self.__dict__.get("_trained")
        if index is None:
            index = self._trained = {}
            for summary in dict.values(self.modules):
                for qname, framework, live in (summary or {}).get("trains", ()):
                    target = self._defining_module(qname)
                    if target is not None:
                        entry = index.setdefault(target[0], {}).setdefault(target[1], [framework, []])
                        entry[1] = sorted(set(entry[1]) | set(live))
        return {name: [framework, list(live)] for name, (framework, live) in index.get(module, {}).items()}

    def function_cuts(self, qname: str) -> Optional[List[List[str]]]:
        """[positional parameters, parameters that do not reach the return as a tensor of the
        graph, those of them it returns as NumPy/Python data] of the project function `qname`
        (`index_summaries.returns_cut`); None when it cuts none or is unknown."""
        target = self._defining_module(qname)
        if target is None:
            return None
        summary = dict.get(self.modules, target[0])
        entry = (summary or {}).get("returns", {}).get(target[1])
        return [list(part) for part in entry] if entry and len(entry) == 3 else None

    def linked_context(self, module: str) -> Optional[List]:
        """[text to append, line ranges to blank, uses to rewrite] linking `module`'s file to
        the project files it imports definitions or modules from and to those that import from
        it, also two files away (`linking.link`); None when it has none, or is not about
        training and nothing about training imports it (or a file importing it)."""
        from gradscan.semantics.linking import Caller, link
        from gradscan.semantics.linking import read_module as read

        memo = self.__dict__.setdefault("_read_memo", {})

        def read_module(file: str):  # each linked file is read and parsed once per run
            if file not in memo:
                memo[file] = read(file)
            return memo[file]

        summary = dict.get(self.modules, module)
        path = self._paths().get(module)
        if not summary or path is None:
            return None
        own_links = bool(summary.get("links"))
        aliases = dict.get(self.files, path) or [module]  # `pkg.lib` is also `lib` beside a script
        importers = sorted({c for m in aliases for c, _q in self._importers().get(m, ()) if c != path})
        direct = [c for c in importers if own_links or (self._summary_of(c) or {}).get("links")]
        # A chain: a file importing ours that trains nothing, imported in turn by one that trains
        # (`distributions.py` <- `policies.py` <- the algorithm): followed one file further.
        chains = {}
        if not own_links:
            for c in [c for c in importers if c not in direct][:MAX_CHAIN_FILES]:
                further = sorted({f for m in (dict.get(self.files, c) or []) for f, _q in self._importers().get(m, ())
                                  if f not in (c, path) and (self._summary_of(f) or {}).get("links")})
                if further:
                    chains[c] = further
        imports_project = own_links and (any(self._defining_module(q) or self._is_module(q)
                                             for q in summary.get("names", {}).values())
                                         or any(self._is_module(q) for q in summary.get("imports", ())))
        if not direct and not chains and not imports_project:
            return None
        own = read_module(path)
        if own is None:
            return None
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        imported, modules = [], []
        for stmt in own.imports:
            if isinstance(stmt, ast.Import):
                for a in stmt.names:
                    target_path = self._paths().get(a.name)
                    if target_path is not None and target_path != path:
                        modules.append((a.asname or a.name, target_path))
                continue
            base = _absolute(stmt.module, stmt.level, package)
            names = {}
            for a in stmt.names:
                submodule = self._paths().get(f"{base}.{a.name}") if base else None
                if submodule is not None and submodule != path:  # `from pkg import models`
                    modules.append((a.asname or a.name, submodule))
                    continue
                target = self._defining_module(f"{base}.{a.name}") if base else None
                target_path = self._paths().get(target[0]) if target else None
                # A helper that cuts or converts its argument stays a call with a summary: the
                # finding belongs where the caller uses it (`tf.constant(to_numpy(pred))`).
                if target_path is not None and target_path != path and self.function_cuts(f"{base}.{a.name}") is None:
                    names[a.asname or a.name] = (target_path, target[1])
            if names:
                imported.append((stmt, names))

        def caller(file: str, targets: List[str], further: Optional[List] = None):
            other = read_module(file)
            if other is None:
                return None
            other_package = self._package_of(file)
            stmts, prefixes = [], set()
            for s in other.imports:
                if isinstance(s, ast.Import):
                    named = [a for a in s.names if a.name in targets]
                    prefixes |= {a.asname or a.name for a in named}
                elif _absolute(s.module, s.level, other_package) in targets:
                    named = [s]
                else:
                    base = _absolute(s.module, s.level, other_package)
                    named = [a for a in s.names if base and f"{base}.{a.name}" in targets]
                    prefixes |= {a.asname or a.name for a in named}
                if named:
                    stmts.append(s)
            if not stmts:
                return None
            names = dict.get(self.files, file) or [""]
            return Caller(other, stmts, prefixes, names[0], further)

        # (`link` takes the first MAX_CALLERS: the files after them are not read at all)
        callers = []
        for c in direct:
            if len(callers) >= MAX_CALLERS:
                break
            found_caller = caller(c, aliases)
            if found_caller is not None:
                callers.append(found_caller)
        for c in sorted(chains):  # after the direct ones: those come first within the caps
            if len(callers) >= MAX_CALLERS:
                break
            middle = dict.get(self.files, c) or []
            far = []
            for f in chains[c][:MAX_CHAIN_FILES]:
                found_caller = caller(f, middle) if len(far) < MAX_CALLERS else None
                if found_caller is not None:
                    far.append(found_caller)
            found_caller = caller(c, aliases, far) if far else None
            if found_caller is not None:
                callers.append(found_caller)
        found = link(own, imported, callers, read_module, modules)
        return [found[0], found[1], found[2]] if found else None

    def _is_module(self, qname: str) -> bool:
        return qname in self._paths()

    def _paths(self) -> Dict[str, str]:
        """module name -> its file (names two files claim are left out, as in `modules`)."""
        paths = self.__dict__.get("_path_memo")
        if paths is None:
            paths = {}
            for file, names in dict.items(self.files):
                for name in names:
                    if dict.get(self.modules, name) is not None:
                        paths[name] = file
            self._path_memo = paths
        return paths

    def _package_of(self, file: str) -> str:
        names = dict.get(self.files, file) or [""]
        return names[0] if file.endswith("__init__.py") else names[0].rpartition(".")[0]

    def _summary_of(self, file: str) -> Optional[dict]:
        names = dict.get(self.files, file) or []
        return dict.get(self.modules, names[0]) if names else None

    def _importers(self) -> Dict[str, List[Tuple[str, str]]]:
        """module -> [(a file importing a name from it, the qualified name)]."""
        memo = self.__dict__.get("_importer_memo")
        if memo is None:
            memo = {}
            for file, names in dict.items(self.files):
                summary = dict.get(self.modules, names[0]) if names else None
                for q in (summary or {}).get("names", {}).values():
                    target = self._defining_module(q)
                    if target is not None:
                        memo.setdefault(target[0], []).append((file, q))
                    if self._is_module(q):  # `import models`, `from pkg import models`
                        memo.setdefault(q, []).append((file, q))
                for q in (summary or {}).get("imports", ()):
                    if self._is_module(q):  # `import pkg.models`
                        memo.setdefault(q, []).append((file, q))
            self._importer_memo = memo
        return memo

    def _defining_module(self, qname: str, depth: int = 0) -> Optional[Tuple[str, str]]:
        """(module, function name) for `pkg.losses.dice` or a re-export of it (`pkg.dice` where
        `pkg/__init__.py` imports it from `.losses`); None for a name outside the project."""
        module, _, name = qname.rpartition(".")
        if not module or depth > 5:
            return None
        summary = dict.get(self.modules, module)
        if not summary:
            return None
        target = summary.get("names", {}).get(name)
        if target is not None and target != qname:
            return self._defining_module(target, depth + 1)
        return module, name

    def _derives(self, cls: str, ancestor: str, depth: int) -> bool:
        if depth > 8:
            return False
        for base in self.bases(cls) or []:
            if base == ancestor or self._derives(base, ancestor, depth + 1):
                return True
        return False


def build_index(files: Iterable[Path], root_of, cache_dir: Optional[Path] = None, map_fn=None) -> ProjectIndex:
    """Summaries of `files`, reusing the cached ones whose size and mtime did not change.
    `map_fn` (like the builtin `map`, e.g. a process pool's) computes the missing summaries."""
    cache_file = cache_dir / "index.json" if cache_dir else None
    cached: dict = {}
    if cache_file and cache_file.is_file():
        try:
            data = json.loads(cache_file.read_text())
            if isinstance(data, dict) and data.get("version") == INDEX_VERSION and isinstance(data.get("files"), dict):
                cached = data["files"]
        except (OSError, ValueError):  # unreadable or truncated: rebuilt
            cached = {}
    entries: List[list] = []  # [key, stamp, names, summary], in the order of `files`
    packages: Dict[Path, List[str]] = {}
    missing: List[int] = []
    for file in files:
        key = str(file)
        try:
            st = file.stat()
        except OSError:
            continue
        stamp = [st.st_mtime_ns, st.st_size]
        root = root_of(file)
        names = module_names(file, root, packages)
        hit = cached.get(key)
        if isinstance(hit, dict) and hit.get("stamp") == stamp and hit.get("names") == names and "summary" in hit:
            entries.append([key, stamp, names, hit["summary"], hit.get("parsed", False)])
        else:
            missing.append(len(entries))
            entries.append([key, stamp, names, None, False])
    if missing:
        jobs = [(entries[i][0], entries[i][2][0] if entries[i][2] else Path(entries[i][0]).stem) for i in missing]
        for i, result in zip(missing, (map_fn or map)(summarize_file, jobs)):
            entries[i][3], entries[i][4] = result
    fresh: dict = {}
    index = ProjectIndex()
    for key, stamp, names, summary, parsed in entries:
        if summary is None:  # unreadable, or a syntax error
            continue
        fresh[key] = {"stamp": stamp, "names": names, "summary": summary, "parsed": parsed}
        index.add(names, summary, owner=key)
        index.files[key] = names
        if parsed:
            index._python_accepted[key] = stamp
    # Rewriting the whole file costs more than summarizing a few changed files again: a
    # pre-commit call on one edited file of a large project does not rewrite it.
    changed = len(missing) + sum(1 for key in cached if key not in fresh)
    if cache_file and changed and (not cached or changed > max(REWRITE_MIN_CHANGES, len(fresh) // 50)):
        _write_atomic(cache_file, json.dumps({"version": INDEX_VERSION, "files": fresh}))
    return index


def summarize_file(job) -> Tuple[Optional[dict], bool]:
    """(the summary of one file, whether Python's parser read the whole of it), `job` = (path,
    module name); the summary is None if the file is unreadable or invalid."""
    path, module = job
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError:
        return None, False
    try:
        text, exact = decode_python(data), True  # as the engine will read it
    except SourceError:
        text, exact = data.decode("utf-8", errors="replace"), False
    # Only files that define classes or may re-export them (packages, modules without
    # functions such as `api.py`), train, or may cut a gradient in a function are parsed: the
    # rest contribute nothing.
    wanted = ("class " in text or file.name == "__init__.py" or "def " not in text
              or any(w in text for w in _TRAINING_WORDS) or any(w in text for w in CUT_WORDS)
              or about_training(text))
    if not wanted:
        return {"classes": {}, "names": {}, "stars": []}, False
    summary = summarize(text, module, file.name == "__init__.py")
    # The engine parses each file with `ast` before libcst; a file parsed here, as the engine
    # reads it, need not be parsed twice.
    return summary, summary is not None and exact


def _write_atomic(path: Path, text: str) -> None:
    """Concurrent runs each write a whole file; the last rename wins and no reader sees half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # here, not at the top: its import (shutil, random) costs ~25 ms of start-up

        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException as exc:  # also an interrupt: no temporary file is left behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if not isinstance(exc, OSError):
            raise
