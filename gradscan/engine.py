"""The engine: one parse, one semantic model and one pass of every enabled rule per file.

`check_source` is the library entry point that the command line, the flake8 plugin, the
language server and the tests all use.
"""
from __future__ import annotations

import fnmatch
import os
import traceback
from dataclasses import replace
from time import perf_counter
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import libcst as cst

from gradscan import noqa
from gradscan.config import Settings, validate_selector
from gradscan.files import SourceError, SourceFile, read_source, source_from_bytes, source_from_text
from gradscan.findings import Finding, Fix
from gradscan.positions import positions as node_positions
from gradscan.rules import REGISTRY, Report, Rule


def check_source(
    text: str,
    path: str = "<stdin>",
    settings: Optional[Settings] = None,
    select: Optional[Sequence[str]] = None,
    project=None,
    disable_noqa: bool = False,
) -> List[Finding]:
    """Check one source text (Python, or a notebook's JSON when `path` ends in .ipynb)."""
    settings = _with_select(settings or Settings(), select)
    try:
        source = source_from_text(text, path)
    except SourceError as exc:
        return _unreadable(path, exc, settings)
    return check_source_file(source, settings, project=project, disable_noqa=disable_noqa)


def check_file(file: Path, display: str, settings: Settings, project=None, disable_noqa: bool = False) -> List[Finding]:
    try:
        source = read_source(file, display)
    except SourceError as exc:
        return _unreadable(display, exc, settings)
    return _checked(source, settings, project, disable_noqa)


def check_bytes(data: bytes, path: str, settings: Settings, project=None, disable_noqa: bool = False,
                python_accepted: bool = False) -> List[Finding]:
    """Check a file's raw content (standard input, an editor's buffer) reported under `path`.
    `python_accepted`: Python's parser already read this very content without error."""
    try:
        source = source_from_bytes(data, path)
    except SourceError as exc:
        return _unreadable(path, exc, settings)
    return _checked(source, settings, project, disable_noqa, python_accepted)


def _unreadable(path: str, exc: SourceError, settings: Settings) -> List[Finding]:
    enabled = _apply_per_file_ignores(path, settings, settings.enabled_codes())
    return [Finding(path, exc.line, exc.col, "GS001", str(exc), exc.line, exc.col)] if "GS001" in enabled else []


def _checked(source: SourceFile, settings: Settings, project, disable_noqa: bool,
             python_accepted: bool = False) -> List[Finding]:
    """check_source_file, with a bug anywhere in the engine reported as GS000 for this file only."""
    try:
        return check_source_file(source, settings, project=project, disable_noqa=disable_noqa,
                                 python_accepted=python_accepted)
    except Exception as exc:
        return [Finding(source.path, 1, 1, "GS000", f"internal error while checking the file: {type(exc).__name__}: {exc}",
                        1, 1, detail=traceback.format_exc())]


def _with_select(settings: Settings, select: Optional[Sequence[str]]) -> Settings:
    if select is None:
        return settings
    from dataclasses import replace

    return settings.with_selection(select=[validate_selector(s, "select") for s in select])


def module_name_for(path: str, settings: Settings, project=None) -> Optional[str]:
    """The dotted module name of a checked file: the one the project index gave it, so that its
    imports and the index agree; else from its `__init__.py` chain and project root."""
    from gradscan.semantics.project import module_names, project_root

    p = Path(path)
    if not p.suffix == ".py" or not p.exists():
        return None
    p = p.resolve()
    names = project.module_names_of(p) if project is not None and hasattr(project, "module_names_of") else None
    if not names:
        names = module_names(p, (project_root(p) or settings.root).resolve())
    return names[0] if names else None


def check_source_file(source: SourceFile, settings: Settings, project=None, disable_noqa: bool = False, enabled=None,
                      python_accepted: bool = False) -> List[Finding]:
    enabled = enabled if enabled is not None else settings.enabled_codes()
    if "GS010" in enabled and not disable_noqa and "noqa" in source.text.lower() \
            and "GS010" in _apply_per_file_ignores(source.path, settings, enabled) and not noqa.skip_file(source.text):
        # Which `# noqa` silenced something is known only from the findings before noqa.
        everything = _check_source_file(source, settings, project, True, enabled, python_accepted)
        return _with_unused_noqa(source, everything)
    return _check_source_file(source, settings, project, disable_noqa, enabled, python_accepted)


def _with_unused_noqa(source: SourceFile, everything: List[Finding]) -> List[Finding]:
    """Apply `# noqa` to `everything` and add a GS010 for each directive that silenced nothing."""
    lines = {}  # (cell, line in cell) -> line of the analysed text
    table = noqa.noqa_lines(source.text)
    for n in table:
        lines[source.locate(n)] = n
    kept, silenced = [], {}
    for f in everything:
        n = lines.get((f.cell, f.line))
        if n is not None and noqa.suppressed(f.code, n, table):
            silenced.setdefault(n, []).append(f.code)
        else:
            kept.append(f)
    for d, idle in noqa.unused(source.text, silenced):
        cell, line = source.locate(d.line)
        kept.append(Finding(source.path, line, d.col, "GS010", REGISTRY["GS010"].message.format(codes=", ".join(idle)),
                            line, d.end_col, cell))
    kept.sort(key=Finding.sort_key)
    return kept


def _check_source_file(source: SourceFile, settings: Settings, project, disable_noqa: bool, enabled,
                       python_accepted: bool) -> List[Finding]:
    started = perf_counter()
    enabled = _apply_per_file_ignores(source.path, settings, enabled)
    text = source.text
    if not disable_noqa and noqa.skip_file(text):
        return []
    # The project files this one works with, appended after its last line (`linking`): every
    # analysis crosses into them, and only findings on this file's own lines are kept.
    linked = _linked(source, settings, project) if not source.errors else None
    scope = linked[0] if linked is not None else text
    rules = [REGISTRY[c]() for c in sorted(enabled) if not REGISTRY[c].engine]
    rules = [r for r in rules if not r.triggers or any(t in scope for t in r.triggers)]
    if not rules:
        # Nothing to check, but a broken file must still be reported: `ast` finds syntax
        # errors at a tenth of libcst's parse cost.
        return [] if python_accepted and not source.errors else _syntax_only(source, enabled, disable_noqa)
    raw: List[tuple] = _source_errors(source, enabled)  # (node or (line, col), code, message, fix, detail)
    # Python's own parser first (a tenth of libcst's cost): libcst's native parser overflows its
    # stack and kills the process on nesting that Python refuses as too deep (thousands of
    # unary operators, brackets or chained calls), and takes minutes on chains Python refuses
    # at once. A plain syntax error is kept for later: libcst may know newer syntax. (The
    # project index may already have parsed this very content: then it is not parsed twice.)
    error = None if python_accepted else _python_syntax_error(text)
    if error is not None and error[3]:
        return _finish(source, raw + [((error[0], error[1]), "GS001", error[2], None, None)], enabled, disable_noqa, None) \
            if "GS001" in enabled else []
    if linked is not None and error is None:
        try:
            module = cst.parse_module(linked[0])
        except Exception:  # the context does not parse with this file: the file is checked alone
            linked = None
        else:
            # (a fix touching a rewritten line would write the rewritten text back: left out)
            return [replace(f, fix=None) if f.fix is not None and any(
                        f.fix.line <= n <= f.fix.end_line for n in linked[2]) else f
                    for f in _parsed(replace(source, text=linked[0]), module, raw, rules, settings, project,
                                     enabled, disable_noqa, started)
                    if f.line <= linked[1] or f.code in ("GS000", "GS002", "GS003")]
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        if "GS001" not in enabled:
            return []
        # Python's own parser says where and what, in the words users know; libcst's error
        # (often one line late, with a list of expected tokens) only when Python accepts the file.
        if error is None:
            message = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
            error = (exc.raw_line, exc.raw_column + 1, f"cannot parse file: {message}")
        return _finish(source, raw + [((error[0], error[1]), "GS001", error[2], None, None)], enabled, disable_noqa, None)
    except (RecursionError, MemoryError, ValueError) as exc:
        if "GS001" not in enabled:
            return []
        return _finish(source, raw + [((1, 1), "GS001", f"cannot parse file: {type(exc).__name__}", None, None)], enabled, disable_noqa, None)
    return _parsed(source, module, raw, rules, settings, project, enabled, disable_noqa, started)


def _parsed(source: SourceFile, module, raw, rules, settings: Settings, project, enabled, disable_noqa: bool,
            started: float) -> List[Finding]:
    from gradscan.semantics import budget

    # The budget starts after the parse (libcst's parser cannot be interrupted) and counts from
    # the start of the check: `file_budget` seconds, or 20 times the parse, whichever is longer.
    budget.start(budget.deadline_for(started, perf_counter() - started, settings.file_budget))
    try:
        return _analysed(source, module, raw, rules, settings, project, enabled, disable_noqa, started)
    finally:
        budget.stop()


def _linked(source: SourceFile, settings: Settings, project) -> Optional[tuple]:
    """(this file's text with its linked context appended, its own line count, the lines whose
    uses of a linked module were rewritten), or None."""
    if project is None or source.is_notebook or not hasattr(project, "linked_context") or not source.path.endswith(".py"):
        return None
    name = module_name_for(source.path, settings, project)
    found = project.linked_context(name) if name else None
    if not found:
        return None
    context, blank = found[0], found[1]
    rewrites = found[2] if len(found) > 2 else []
    lines = source.text.splitlines(keepends=True)
    for line, col, text, replacement in rewrites:
        # `models.fit` read as `fit` padded to the same length: every position stays
        if not (1 <= line <= len(lines)) or lines[line - 1][col:col + len(text)] != text or len(replacement) != len(text):
            return None
        lines[line - 1] = lines[line - 1][:col] + replacement + lines[line - 1][col + len(text):]
    for start, end, statement in blank:
        # The index read the file on disk; the text checked (an editor's buffer, a mutant) may
        # differ: link only when the imports to blank are where the index saw them.
        if not (1 <= start <= end <= len(lines)) or "".join(lines[start - 1:end]).strip() != statement.strip():
            return None
        indent = lines[start - 1][:len(lines[start - 1]) - len(lines[start - 1].lstrip())]
        lines[start - 1] = indent + "pass\n"
        for k in range(start, end):
            lines[k] = "\n"
    own = "".join(lines)
    if own and not own.endswith("\n"):
        own += "\n"
    return own + "\n" + context, len(lines), {r[0] for r in rewrites}


def _analysed(source: SourceFile, module, raw: List[tuple], rules, settings: Settings, project, enabled,
              disable_noqa: bool, started: float) -> List[Finding]:
    """The semantic model and every rule on a parsed file, within the file's time budget."""
    from gradscan.semantics import budget
    from gradscan.semantics.model import FileModel

    if source.is_notebook and not settings.keras and source.shown_lines:
        from gradscan.files.dependencies import notebook_keras

        found = notebook_keras(source.shown_lines, "notebook")
        if found is not None:  # the notebook's own installs come before its project's files
            here = os.path.abspath(source.path)
            settings = replace(settings, declared_keras=((here, *found), *settings.declared_keras))
    try:
        model = FileModel.build(module, source.path, source.text, settings, project,
                                module_name_for(source.path, settings, project))
    except budget.BudgetExceeded:
        budget.stop()
        return _finish(source, raw + [_cut_short(settings, [r.code for r in rules])], enabled, disable_noqa, module)
    except Exception as exc:  # a bug in the semantic model: every rule is affected
        return _finish(source, [((1, 1), "GS000", f"internal error in the semantic model: {type(exc).__name__}: {exc}", None, traceback.format_exc())], enabled, disable_noqa, None)
    try:
        for n, rule in enumerate(rules):
            try:
                for report in rule.check(model):
                    raw.append((report.node, rule.code, report.message or rule.message, report.fix, None))
            except budget.BudgetExceeded:
                # What this rule and the rules before it reported is kept: a cut-short file is
                # reported with its findings so far, never passed in silence.
                budget.stop()
                raw.append(_cut_short(settings, [r.code for r in rules[n:]]))
                break
            except Exception as exc:
                raw.append(((1, 1), "GS000", f"internal error in rule {rule.code}: {type(exc).__name__}: {exc}", None, traceback.format_exc()))
        budget.stop()  # positions and noqa are linear: not counted
        flow = model.__dict__.get("_flow")
        if flow is not None and flow.incomplete:
            raw.append(((1, 1), "GS003", REGISTRY["GS003"].message.format(count=flow.incomplete), None, None))
        return _finish(source, raw, enabled, disable_noqa, module)
    finally:
        model.release()  # frees the tree by reference counting, not by the cyclic collector


def _line_map(code: str, text: str):
    """None when libcst's code (`code`) is the source itself (the usual case). Otherwise a
    function mapping a (line, column) of libcst's code to the source's: libcst drops some
    things it parses, such as a line holding only a backslash continuation, and positions after
    them would be off by a line."""
    if code == text:
        return None
    import difflib

    ours, theirs = code.splitlines(), text.splitlines()
    mapping = {}
    for a, b, size in difflib.SequenceMatcher(None, ours, theirs, autojunk=False).get_matching_blocks():
        for k in range(size):
            mapping[a + k + 1] = b + k + 1

    def remap(line: int, col: int):
        new = mapping.get(line)
        if new is None:  # a line libcst rewrote: the nearest mapped line before it, clamped
            new = max((mapping[l] for l in mapping if l < line), default=1)
            new = min(new, max(len(theirs), 1))
        width = len(theirs[new - 1]) + 1 if theirs else 1
        return new, max(1, min(col, width))

    return remap


def _cut_short(settings: Settings, unfinished: Sequence[str]) -> tuple:
    """The GS002 report of a file whose analysis went past its time budget (worded without the
    time it took, so that the same file reads the same from run to run)."""
    from gradscan.semantics import budget

    named = list(unfinished[:4]) + ([f"{len(unfinished) - 4} more"] if len(unfinished) > 4 else [])
    rules = ", ".join(named) if named else "none"
    message = (f"analysis cut short by the time budget ({settings.file_budget:g} s, or {budget.PARSE_FACTOR}x "
               f"parsing); rules not finished: {rules}")
    return (1, 1), "GS002", message, None, None


def _source_errors(source: SourceFile, enabled) -> List[tuple]:
    """GS001 for what reading found (a notebook cell that does not parse), as raw reports."""
    if "GS001" not in enabled:
        return []
    return [((line, col), "GS001", message, None, None) for line, col, message in getattr(source, "errors", ())]


# Python's messages for nesting beyond its parser's limits.
_TOO_DEEP = ("too many nested parentheses", "too many statically nested blocks", "too many levels of indentation",
             "too complex")


def _python_syntax_error(text: str) -> Optional[tuple]:
    """(line, column, message, too_deep) of the error Python's parser finds in `text`, or None.
    `too_deep`: Python refused the nesting itself, which libcst must not be given."""
    import ast
    import warnings

    try:
        with warnings.catch_warnings():  # invalid escape sequences warn on 3.12+: not our findings
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as exc:
        deep = any(m in (exc.msg or "") for m in _TOO_DEEP)
        return exc.lineno or 1, max(exc.offset or 1, 1), f"syntax error: {exc.msg}", deep
    except (RecursionError, MemoryError):
        return 1, 1, "cannot parse file: nested too deeply for Python's parser", True
    except ValueError as exc:  # null bytes
        return 1, 1, f"cannot parse file: {exc}", False
    return None


def _syntax_only(source: SourceFile, enabled, disable_noqa: bool) -> List[Finding]:
    if "GS001" not in enabled:
        return []
    raw = _source_errors(source, enabled)
    error = _python_syntax_error(source.text)
    if error is not None:
        raw.append(((error[0], error[1]), "GS001", error[2], None, None))
    return _finish(source, raw, enabled, disable_noqa, None)


def _apply_per_file_ignores(path: str, settings: Settings, enabled):
    if not settings.per_file_ignores:
        return enabled
    # As in ruff and flake8: a pattern holding a slash is a path relative to the project root
    # (the configuration's folder); one without matches the file's name.
    given = Path(path)
    absolute = given if given.is_absolute() else Path.cwd() / given
    try:
        absolute = absolute.resolve()
        relative = absolute.relative_to(settings.root.resolve()).as_posix()
    except (ValueError, OSError):
        relative = given.as_posix()
    drop = set()
    for pattern, codes in settings.per_file_ignores.items():
        while pattern.startswith("./"):
            pattern = pattern[2:]
        if "/" in pattern:
            hit = fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(absolute.as_posix(), pattern)
        else:
            hit = fnmatch.fnmatch(given.name, pattern)
        if hit:
            drop.update(c for c in enabled if any(sel == "ALL" or c.startswith(sel) for sel in codes))
    return frozenset(enabled) - drop


def _finish(source: SourceFile, raw, enabled, disable_noqa: bool, module) -> List[Finding]:
    if not raw:
        return []
    positions = None
    if module is not None and any(isinstance(r[0], cst.CSTNode) for r in raw):
        # Positions of the reported nodes (and of the nodes fixes replace) only.
        positions, code = node_positions(module, [r[0] for r in raw] + [r[3][0] for r in raw if r[3] is not None])
    relines = _line_map(code, source.text) if positions is not None and code is not None else None
    unplaced = positions is not None and code is None  # too deep to render: reported at 1:1
    table = {} if disable_noqa else noqa.noqa_lines(source.text)
    out = []
    seen = set()
    for where, code, message, fix, detail in raw:
        if code not in enabled and code != "GS000":
            continue
        if isinstance(where, cst.CSTNode) and positions is not None and where in positions:
            rng = positions[where]
            line, col, end_line, end_col = rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1
            if relines is not None:
                line, col = relines(line, col)
                end_line, end_col = relines(end_line, end_col)
        elif isinstance(where, tuple) and len(where) == 2 and all(isinstance(v, int) for v in where):
            line, col = where
            end_line, end_col = line, col
        elif unplaced and isinstance(where, cst.CSTNode):
            line = col = end_line = end_col = 1
            fix = None
        else:  # a rule reported a node of another tree (or not a node): its bug, not the file's
            line = col = end_line = end_col = 1
            message = f"internal error in rule {code}: reported {type(where).__name__} that is not a node of this file"
            code, fix, detail = "GS000", None, None
        if noqa.suppressed(code, line, table):
            continue
        fix_obj = None
        # Where libcst dropped a line of the source, its positions are mapped back for the
        # finding but not trusted for an edit: no fix is offered there.
        if fix is not None and positions is not None and relines is None and fix[0] in positions and fix[1] is not None:
            node, replacement, title = fix
            r = positions[node]
            if isinstance(replacement, cst.CSTNode):
                replacement = _rendered_in_place(module, node, replacement, r)
            # In a notebook, the fix's rows are inside the cell, as the finding's are.
            fix_obj = None if replacement is None else Fix(title, replacement, source.locate(r.start.line)[1], source.column(r.start.line, r.start.column + 1),
                          source.locate(r.end.line)[1], source.column(r.end.line, r.end.column + 1))
        cell, cline = source.locate(line)
        _, cend = source.locate(end_line)
        col, end_col = source.column(line, col), source.column(end_line, end_col)
        key = (cline, col, code, cell)
        if key in seen:
            continue
        seen.add(key)
        out.append(Finding(source.path, cline, col, code, message, cend, end_col, cell, fix_obj, detail))
    out.sort(key=Finding.sort_key)
    return out


def _rendered_in_place(module, old: cst.CSTNode, new: cst.CSTNode, rng) -> Optional[str]:
    """The text of `new` written where `old` is: rendered inside the module, so that a node
    spanning lines gets the indentation of its place (code_for_node alone would lose it)."""
    import re

    text = module.code
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    try:
        a = starts[rng.start.line - 1] + rng.start.column
        b = starts[rng.end.line - 1] + rng.end.column
        new_text = module.deep_replace(old, new).code
    except Exception:  # a fix that cannot be rendered is not offered
        return None
    tail = len(text) - b
    if new_text[:a] != text[:a] or (tail and new_text[-tail:] != text[-tail:]):
        return None
    return new_text[a:len(new_text) - tail]
