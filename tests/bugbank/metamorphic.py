"""Metamorphic tier: does gradscan still find a bank program's bug once its code is rewritten
in ways that keep what it does?

    python -m tests.bugbank.metamorphic [--half dev] [--transform names,attrs,main,split] [--list]

Each transform keeps the program's behaviour (the gradient is lost, or not, exactly as before)
and changes only its surface, the way code nobody here wrote differs from the bank's:

- ``names``: every name the program binds (variables, parameters, functions, classes) becomes
  a neutral ``q<n>``: a rule that needs ``target``, ``optimizer`` or ``D`` to decide is exposed;
- ``attrs``: every ``self.<attr>`` the program assigns becomes ``self.a<n>`` (framework
  attributes such as ``weight`` or ``training`` keep their names);
- ``imports``: every import is bound to a neutral alias (``import torch as i1``, ``from torch
  import nn as i2``): a rule that needs ``nn.`` or ``tf.`` spelled so is exposed;
- ``main``: the module-level script (everything after the last import, class or function)
  moves into ``def main():`` called under ``if __name__ == "__main__":``;
- ``split``: the classes and functions move to a sibling module the script imports (a
  ``models.py`` beside a ``train.py``);
- ``notebook``: the program becomes a Jupyter notebook (a markdown cell, a magics cell, the
  imports, a cell per definition and per run of script statements, no ``__main__`` guard).

A buggy program is *kept* when a finding still lies on one of its ``# BUG`` lines (the marks
travel with the code); a clean program *stays silent* when it gains no finding. Only the dev
half is tuned on; the test half may be measured (``--half test``) and never listed.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Set, Tuple

import libcst as cst

from tests.bugbank.bank import Program, half_of, programs, read_split
from tests.bugbank.score import findings

_BUG = re.compile(r"#\s*BUG\b")

# Attributes the frameworks themselves read or define: renaming them would change behaviour.
FRAMEWORK_ATTRS = {
    "weight", "bias", "data", "grad", "training", "requires_grad", "trainable", "kernel", "params",
    "device", "dtype", "shape", "built", "name", "variables", "trainable_variables", "trainable_weights",
    "non_trainable_weights", "weights", "layers", "optimizer", "loss", "metrics", "compiled_loss",
    "automatic_optimization", "hparams", "trainer", "log", "state", "step", "T", "mT", "real", "imag",
}


def _skipped_name_nodes(module: cst.Module) -> Set[int]:
    """Name nodes that are not variable references: attribute fields, keywords, imports,
    methods and class-body attributes (read through `self.`)."""
    skip: Set[int] = set()

    class V(cst.CSTVisitor):
        def visit_Attribute(self, node):
            skip.add(id(node.attr))

        def visit_Arg(self, node):
            if node.keyword is not None:
                skip.add(id(node.keyword))

        def visit_Import(self, node):
            for n in _all_names(node):
                skip.add(id(n))
            return False

        def visit_ImportFrom(self, node):
            for n in _all_names(node):
                skip.add(id(n))
            return False

        def visit_ClassDef(self, node):
            for stmt in node.body.body:
                if isinstance(stmt, cst.FunctionDef):
                    skip.add(id(stmt.name))
                for n in _bound_in_statement(stmt):
                    skip.add(id(n))

    module.visit(V())
    return skip


def _all_names(node: cst.CSTNode) -> List[cst.Name]:
    out: List[cst.Name] = []

    class V(cst.CSTVisitor):
        def visit_Name(self, n):
            out.append(n)

    node.visit(V())
    return out


def _target_names(target: cst.CSTNode) -> List[cst.Name]:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in _target_names(el.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _bound_in_statement(stmt: cst.CSTNode) -> List[cst.Name]:
    if isinstance(stmt, cst.SimpleStatementLine):
        out = []
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                out += [n for t in small.targets for n in _target_names(t.target)]
            elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                out += _target_names(small.target)
        return out
    return []


def _bound_names(module: cst.Module) -> Set[str]:
    """Every name the program binds, minus those an import binds or that are used as a keyword
    (a renamed parameter would no longer match `f(x=...)`)."""
    bound: Set[str] = set()
    blocked: Set[str] = {"self", "cls", "super"}

    class V(cst.CSTVisitor):
        def visit_Assign(self, node):
            for t in node.targets:
                bound.update(n.value for n in _target_names(t.target))

        def visit_AnnAssign(self, node):
            bound.update(n.value for n in _target_names(node.target))

        def visit_AugAssign(self, node):
            bound.update(n.value for n in _target_names(node.target))

        def visit_For(self, node):
            bound.update(n.value for n in _target_names(node.target))

        def visit_CompFor(self, node):
            bound.update(n.value for n in _target_names(node.target))

        def visit_AsName(self, node):
            bound.update(n.value for n in _target_names(node.name))

        def visit_Param(self, node):
            bound.add(node.name.value)

        def visit_FunctionDef(self, node):
            bound.add(node.name.value)

        def visit_ClassDef(self, node):
            bound.add(node.name.value)

        def visit_NamedExpr(self, node):
            bound.update(n.value for n in _target_names(node.target))

        def visit_Arg(self, node):
            if node.keyword is not None:
                blocked.add(node.keyword.value)

        def visit_ImportAlias(self, node):
            blocked.add((node.asname.name if node.asname else node.name).value
                        if isinstance((node.asname.name if node.asname else node.name), cst.Name)
                        else _dotted_head(node.name))

    class Methods(cst.CSTVisitor):
        def visit_ClassDef(self, node):
            for stmt in node.body.body:
                if isinstance(stmt, cst.FunctionDef):
                    blocked.add(stmt.name.value)
                blocked.update(n.value for n in _bound_in_statement(stmt))

    module.visit(V())
    module.visit(Methods())
    return {n for n in bound if n not in blocked and not n.startswith("__")}


def _dotted_head(node) -> str:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else ""


class _RenameNames(cst.CSTTransformer):
    def __init__(self, mapping: Dict[str, str], skip: Set[int]):
        self.mapping, self.skip = mapping, skip

    def leave_Name(self, original, updated):
        if id(original) in self.skip or original.value not in self.mapping:
            return updated
        return updated.with_changes(value=self.mapping[original.value])


def rename_names(text: str) -> Dict[str, str]:
    module = cst.parse_module(text)
    mapping = {n: f"q{i}" for i, n in enumerate(sorted(_bound_names(module)), 1)}
    return {"": module.visit(_RenameNames(mapping, _skipped_name_nodes(module))).code}


class _RenameAttrs(cst.CSTTransformer):
    def __init__(self, mapping: Dict[str, str], modules: Set[str] = frozenset()):
        self.mapping = mapping
        self.modules = modules  # names imports bind: `T.spline` is the library's, not `self.spline`

    def leave_Attribute(self, original, updated):
        if isinstance(updated.value, cst.Name) and updated.value.value in self.modules:
            return updated
        if updated.attr.value in self.mapping:
            return updated.with_changes(attr=cst.Name(self.mapping[updated.attr.value]))
        return updated


def rename_attrs(text: str) -> Dict[str, str]:
    module = cst.parse_module(text)
    assigned: Set[str] = set()

    class V(cst.CSTVisitor):
        def visit_AssignTarget(self, node):
            for t in [node.target, *(getattr(node.target, "elements", None) or [])]:
                t = getattr(t, "value", t) if isinstance(t, cst.Element) else t
                if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == "self":
                    assigned.add(t.attr.value)

    module.visit(V())
    names = sorted(a for a in assigned if a not in FRAMEWORK_ATTRS and not a.startswith("_"))
    mapping = {a: f"a{i}" for i, a in enumerate(names, 1)}
    modules: Set[str] = set()

    class Imports(cst.CSTVisitor):
        def visit_ImportAlias(self, node):
            if node.asname is not None and isinstance(node.asname.name, cst.Name):
                modules.add(node.asname.name.value)
            else:
                head = node.name
                while isinstance(head, cst.Attribute):
                    head = head.value
                if isinstance(head, cst.Name):
                    modules.add(head.value)

    module.visit(Imports())
    return {"": module.visit(_RenameAttrs(mapping, modules)).code}


def _is_definition(stmt: cst.CSTNode) -> bool:
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return True
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body)


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
            and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, cst.SimpleString))


def _unwrap_main_guard(stmts: List[cst.BaseStatement]) -> List[cst.BaseStatement]:
    out = []
    for s in stmts:
        if (isinstance(s, cst.If) and isinstance(s.test, cst.Comparison)
                and "__name__" in cst.Module([]).code_for_node(s.test) and s.orelse is None):
            out.extend(s.body.body)
        else:
            out.append(s)
    return out


def wrap_main(text: str) -> Dict[str, str]:
    module = cst.parse_module(text)
    body = list(module.body)
    last_def = max((i for i, s in enumerate(body) if _is_definition(s) or _is_docstring(s)), default=-1)
    head, script = body[:last_def + 1], _unwrap_main_guard(body[last_def + 1:])
    if not script:
        return {"": text}
    # Names the script binds that the definitions read stay module globals.
    defined_in_script = _bound_names(cst.Module(body=script))
    read_by_defs = {n.value for s in head if isinstance(s, (cst.FunctionDef, cst.ClassDef)) for n in _all_names(s)}
    shared = sorted(defined_in_script & read_by_defs)
    prefix = [cst.parse_statement(f"global {', '.join(shared)}")] if shared else []
    main = cst.FunctionDef(name=cst.Name("main"), params=cst.Parameters(),
                           body=cst.IndentedBlock(body=prefix + script),
                           leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    guard = cst.parse_statement('if __name__ == "__main__":\n    main()\n')
    return {"": module.with_changes(body=head + [main, guard]).code}


def _bound(target: cst.BaseExpression) -> Set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {n for e in target.elements for n in _bound(e.value)}
    return set()


def _reads(definition: cst.CSTNode) -> Set[str]:
    """The names a definition's code reads and does not bind itself (its free names, roughly:
    parameters, assignment, loop and `as` targets are its own)."""
    read: Set[str] = set()
    own: Set[str] = set()

    class Names(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            read.add(node.value)

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)  # `x.attr`: `attr` is no name
            return False

        def visit_Param(self, node: cst.Param) -> None:
            own.add(node.name.value)

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            own.update(_bound(node.target))

        def visit_For(self, node: cst.For) -> None:
            own.update(_bound(node.target))

        def visit_CompFor(self, node: cst.CompFor) -> None:
            own.update(_bound(node.target))

        def visit_AsName(self, node: cst.AsName) -> None:
            own.update(_bound(node.name))

    definition.visit(Names())
    return read - own


def split_definitions(text: str) -> Dict[str, str]:
    """The classes and functions to `<stem>_lib.py`; the script imports them by name."""
    module = cst.parse_module(text)
    body = list(module.body)
    defs = [s for s in body if isinstance(s, (cst.FunctionDef, cst.ClassDef))]
    if not defs:
        return {"": text}
    imports = [s for s in body if _is_definition(s) and not isinstance(s, (cst.FunctionDef, cst.ClassDef))]
    # Module-level constants the definitions read (before the first definition) go to both.
    first = body.index(defs[0])
    constants = [s for s in body[:first] if isinstance(s, cst.SimpleStatementLine) and not _is_definition(s)
                 and not _is_docstring(s)]
    # A definition reading a name the script binds later (`rnn = RNN()` read by `train()` as a
    # global) would not run from the other module: it stays, and so does whatever reads it.
    script_names = {n for s in body[first:] if isinstance(s, cst.SimpleStatementLine) and not _is_definition(s)
                    for small in s.body if isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign))
                    for t in (small.targets if isinstance(small, cst.Assign) else [small])
                    for n in _bound(t.target)}
    kept: Set[str] = set()
    while True:
        more = {d.name.value for d in defs if d.name.value not in kept
                and _reads(d) & (script_names | kept)}
        if not more:
            break
        kept |= more
    defs = [d for d in defs if d.name.value not in kept]
    if not defs:
        return {"": text}
    names = ", ".join(d.name.value for d in defs)
    lib = module.with_changes(body=imports + constants + defs)
    rest = [s for s in body if s not in defs]
    # where the first moved definition stood: the script may use them before its last import
    at = sum(1 for s in body[:body.index(defs[0])] if s not in defs)
    rest.insert(at, cst.parse_statement(f"from LIBMODULE import {names}\n"))
    return {"": module.with_changes(body=rest).code, "_lib": lib.code}


class _AliasImports(cst.CSTTransformer):
    """`import torch.nn as nn` -> `as i1`, `import torch` -> `import torch as i2`, `from torch
    import nn` -> `from torch import nn as i3`; every reference follows."""

    def __init__(self, mapping: Dict[str, str]):
        self.mapping = mapping
        self.in_import = 0

    def visit_Import(self, node):
        self.in_import += 1

    def leave_Import(self, original, updated):
        self.in_import -= 1
        return updated.with_changes(names=[a.with_changes(asname=cst.AsName(name=cst.Name(self.mapping[_alias_name(a)])))
                                           if _alias_name(a) in self.mapping else a for a in updated.names])

    def visit_ImportFrom(self, node):
        self.in_import += 1

    def leave_ImportFrom(self, original, updated):
        self.in_import -= 1
        if isinstance(updated.names, cst.ImportStar):
            return updated
        return updated.with_changes(names=[a.with_changes(asname=cst.AsName(name=cst.Name(self.mapping[_alias_name(a)])))
                                           if _alias_name(a) in self.mapping else a for a in updated.names])

    def leave_Attribute(self, original, updated):
        return updated

    def leave_Name(self, original, updated):
        if self.in_import or original.value not in self.mapping:
            return updated
        return updated.with_changes(value=self.mapping[original.value])


def _alias_name(alias: cst.ImportAlias) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return _dotted_head(alias.name) if isinstance(alias.name, cst.Attribute) else alias.name.value


def alias_imports(text: str) -> Dict[str, str]:
    module = cst.parse_module(text)
    bound: List[str] = []

    class V(cst.CSTVisitor):
        def visit_ImportAlias(self, node):
            if isinstance(node.name, cst.Attribute) and node.asname is None:
                return  # `import torch.nn` binds `torch` and needs the dotted path: left as is
            name = _alias_name(node)
            if name not in bound and name != "*":
                bound.append(name)

    module.visit(V())
    dotted_plain = set()

    class D(cst.CSTVisitor):
        def visit_Import(self, node):
            for a in node.names:
                if isinstance(a.name, cst.Attribute) and a.asname is None:
                    dotted_plain.add(_dotted_head(a.name))

    module.visit(D())
    skip = _skipped_name_nodes(module)
    keywords = set()

    class K(cst.CSTVisitor):
        def visit_Arg(self, node):
            if node.keyword is not None:
                keywords.add(node.keyword.value)

    module.visit(K())
    mapping = {n: f"i{k}" for k, n in enumerate(bound, 1) if n not in dotted_plain and n not in keywords
               and not n.startswith("__")}
    out = module.visit(_AliasAwareRename(mapping, skip))
    return {"": out.code}


class _AliasAwareRename(_AliasImports):
    def __init__(self, mapping, skip):
        super().__init__(mapping)
        self.skip = skip

    def leave_Name(self, original, updated):
        if id(original) in self.skip and not self.in_import:
            return updated
        return super().leave_Name(original, updated)


def to_notebook(text: str) -> Dict[str, str]:
    """The program as a notebook: its docstring a markdown cell, its imports one cell, then a
    cell per class or function and per run of script statements (the `__main__` guard
    dropped, as notebooks have none), after a cell of the magics notebooks carry."""
    import json

    module = cst.parse_module(text)
    body = list(module.body)
    cells: List[Tuple[str, str]] = []
    if body and _is_docstring(body[0]):
        doc = body.pop(0).body[0].value.evaluated_value
        cells.append(("markdown", str(doc)))
    cells.append(("code", "%matplotlib inline\n!pip install -q torch"))
    imports = [s for s in body if _is_definition(s) and not isinstance(s, (cst.FunctionDef, cst.ClassDef))]
    if imports:
        cells.append(("code", cst.Module(body=imports).code.strip("\n")))
    run: List[cst.BaseStatement] = []
    for stmt in _unwrap_main_guard([s for s in body if s not in imports]):
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            if run:
                cells.append(("code", cst.Module(body=run).code.strip("\n")))
                run = []
            cells.append(("code", cst.Module(body=[stmt]).code.strip("\n")))
        else:
            run.append(stmt.with_changes(leading_lines=[]) if hasattr(stmt, "leading_lines") else stmt)
    if run:
        cells.append(("code", cst.Module(body=run).code.strip("\n")))
    nb = {"cells": [{"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True),
                     **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                    for kind, src in cells],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    return {".ipynb": json.dumps(nb, indent=1)}


TRANSFORMS: Dict[str, Callable[[str], Dict[str, str]]] = {
    "names": rename_names, "attrs": rename_attrs, "imports": alias_imports, "main": wrap_main,
    "split": split_definitions, "notebook": to_notebook,
}


def write_variant(program: Program, transform: str, root: Path) -> List[Path]:
    """The transformed program's files under `root`, same relative names (plus `<stem>_lib.py`)."""
    files = TRANSFORMS[transform](program.path.read_text(encoding="utf-8"))
    rel = Path(program.name)
    out = []
    for suffix, code in files.items():
        # (not `jax/`: a folder named like a framework would make the files its package)
        path = root / f"{rel.parent}_programs" / (f"{rel.stem}{suffix}" if suffix.startswith(".") else f"{rel.stem}{suffix}.py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code.replace("from LIBMODULE import", f"from {rel.stem}_lib import"), encoding="utf-8")
        out.append(path)
    return out


def bug_lines(path: Path) -> Set[Tuple[object, int]]:
    """(cell or None, line) of every `# BUG` mark: cells numbered from 1 as gradscan reports them."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        import json

        return {(n, i) for n, cell in enumerate(json.loads(text)["cells"], 1) if cell["cell_type"] == "code"
                for i, line in enumerate("".join(cell["source"]).splitlines(), 1) if _BUG.search(line)}
    return {(None, i) for i, line in enumerate(text.splitlines(), 1) if _BUG.search(line)}


def measure(progs: List[Program], transform: str) -> List[Tuple[Program, bool, int]]:
    """(program, found on a # BUG line, false findings) for each program under the transform."""
    with tempfile.TemporaryDirectory() as tmp:
        variants = {p.name: write_variant(p, transform, Path(tmp) / transform) for p in progs}
        by_file = findings([f for fs in variants.values() for f in fs])
        out = []
        for p in progs:
            true = false = 0
            for f in variants[p.name]:
                lines = bug_lines(f)
                for finding in by_file.get(f.resolve(), []):
                    if (finding.get("cell"), finding["location"]["row"]) in lines:
                        true += 1
                    else:
                        false += 1
            out.append((p, true > 0, false))
        return out


def verify(progs: List[Program], transform: str) -> List[str]:
    """Run each transformed program's self-check (the frameworks must be installed): the names
    of those whose label no longer holds, i.e. where the transform changed behaviour."""
    import subprocess

    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in progs:
            main_file = write_variant(p, transform, Path(tmp) / transform)[0]
            if main_file.suffix != ".py":
                continue  # (a notebook is not run here)
            proc = subprocess.run([sys.executable, main_file.name], cwd=main_file.parent, capture_output=True,
                                  text=True, timeout=300)
            if proc.returncode != 0:
                failed.append(f"{p.name}: {(proc.stderr.strip().splitlines() or ['?'])[-1][:120]}")
    return failed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=["dev", "test"], default="dev")
    ap.add_argument("--transform", default=",".join(TRANSFORMS))
    ap.add_argument("--list", action="store_true", help="name the programs each transform loses (dev half only)")
    ap.add_argument("--verify", type=int, metavar="N", default=0,
                    help="also run the first N transformed programs' self-checks (slow)")
    args = ap.parse_args(argv)
    if args.list and args.half == "test":
        ap.error("the test half is measured, never listed")
    split = read_split()
    progs = [p for p in programs() if split.get(p.name, (half_of(p.pair),))[0] == args.half]
    print("| transform | buggy found | clean programs with a finding | false findings |")
    print("|---|---|---|---|")
    for transform in ["none", *args.transform.split(",")]:
        results = measure(progs, transform) if transform != "none" else baseline(progs)
        buggy = [r for r in results if r[0].label == "buggy"]
        clean = [r for r in results if r[0].label != "buggy"]
        print(f"| {transform} | {sum(r[1] for r in buggy)}/{len(buggy)} | "
              f"{sum(1 for r in clean if r[2])}/{len(clean)} | {sum(r[2] for r in results)} |")
        if args.verify and transform != "none":
            for line in verify(progs[:args.verify], transform):
                print(f"    behaviour changed: {line}")
        if args.list and transform != "none":
            base = {p.name: (found, false) for p, found, false in baseline(progs)}
            for p, found, false in results:
                if p.label == "buggy" and base[p.name][0] and not found:
                    print(f"    lost: {p.name}")
                if false > base[p.name][1]:
                    print(f"    gained {false - base[p.name][1]} false: {p.name}")
    return 0


_BASE: Dict[str, List[Tuple[Program, bool, int]]] = {}


def baseline(progs: List[Program]) -> List[Tuple[Program, bool, int]]:
    key = ",".join(p.name for p in progs)
    if key not in _BASE:
        by_file = findings([p.path for p in progs])
        _BASE[key] = [(p, any(f["location"]["row"] in p.bug_lines for f in by_file.get(p.path.resolve(), [])),
                       sum(1 for f in by_file.get(p.path.resolve(), []) if f["location"]["row"] not in p.bug_lines))
                      for p in progs]
    return _BASE[key]


if __name__ == "__main__":
    sys.exit(main())
