"""Jupyter notebooks: the code cells become one module, so imports in cell 1 serve cell 3.

What IPython accepts but Python does not is neutralised before parsing, keeping every line at
its number so that findings map back to (cell, line in the cell):

- a cell whose first line is a cell magic (`%%time`, `%%bash`) is not Python: it is left out;
- at the start of a statement, line magics (`%matplotlib inline`), shell escapes (`!pip install`),
  help queries (`?obj`, `obj??`) and the other IPython escapes become `pass` at the same
  indentation (so a block whose body was only a magic stays valid), and `files = !ls` /
  `t = %timeit -o f()` become `files = None`;
- a `%` or `!` that continues an expression (`("%d items"\\n % n)`) or sits inside a string is
  Python and is left alone: escapes are only recognised where a statement starts, as IPython does.

A cell that still does not parse is reported as GS001 at its own line and commented out, so the
rest of the notebook is still checked. A notebook that is not JSON, or not shaped like one, is a
`SourceError` (GS001 for the whole file). A notebook whose kernel is not Python yields no code.
"""
from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from typing import List, Optional, Tuple

from gradscan.files.source import SourceError, SourceFile

# IPython's escapes at the start of a statement: magics, shell, help, autocall and autoquote.
_ESCAPE = re.compile(r"^(?P<indent>[ \t]*)(?:%|!|\?|/|,(?!\s*$)|;(?!\s*$))")
# `files = !ls`, `a, b = %sx cmd` (IPython's assign_from_system / assign_from_magic).
_ASSIGN = re.compile(r"^(?P<lhs>[ \t]*[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)[ \t]*=[ \t]*[%!]")
# `obj?`, `np.mean??`, `%timeit?` (IPython's help_end).
_HELP_END = re.compile(r"^[ \t]*%{0,2}[A-Za-z_*][\w*]*(?:\.[A-Za-z_*][\w*]*)*\?{1,2}[ \t]*$")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_PYTHON_NAMES = ("python", "python3", "python2", "ipython", "ipython3", "ipython2", "")


def _cells(nb) -> list:
    if not isinstance(nb, dict):
        raise SourceError("malformed notebook: the top level is not an object")
    if "cells" in nb:
        cells = nb["cells"]
    elif isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = []
        for sheet in nb["worksheets"]:
            if not isinstance(sheet, dict) or not isinstance(sheet.get("cells", []), list):
                raise SourceError("malformed notebook: a worksheet has no list of cells")
            cells.extend(sheet.get("cells", []))
    else:
        raise SourceError("malformed notebook: no list of cells")
    if not isinstance(cells, list):
        raise SourceError("malformed notebook: 'cells' is not a list")
    return cells


def _is_python(nb: dict) -> bool:
    """False only when the notebook says its code is in another language (R, Julia, Scala...)."""
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        return True
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        table = meta.get(key)
        if isinstance(table, dict) and isinstance(table.get(field), str):
            return table[field].strip().lower() in _PYTHON_NAMES
    return True


def _cell_lines(cell: dict) -> List[str]:
    src = cell.get("source", cell.get("input", ""))  # "input" in nbformat 3
    if isinstance(src, list):
        if not all(isinstance(part, str) for part in src):
            raise SourceError("malformed notebook: a cell's source is not text")
        src = "".join(src)
    if src is None:
        src = ""
    if not isinstance(src, str):
        raise SourceError("malformed notebook: a cell's source is not text")
    if "\x00" in src:
        raise SourceError("malformed notebook: a cell contains NUL characters")
    if not src:
        return []
    lines = _NEWLINE.split(src)
    if lines[-1] == "":  # a trailing newline ends the last line, it does not start another
        lines.pop()
    return lines


def _is_cell_magic(lines: List[str]) -> bool:
    for line in lines:
        if line.strip():
            return line.lstrip().startswith("%%")
    return False


def _inside_statement(lines: List[str]) -> bool:
    """True when `lines` end inside brackets, a string, or after a backslash: the next line
    continues a statement, so a leading `%` there is Python's modulo, not a magic."""
    if not lines:
        return False
    try:
        for _ in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            pass
    except tokenize.TokenError:  # EOF in a multi-line statement or string
        return True
    except (SyntaxError, ValueError):  # broken code: the cell's parse reports it
        return False
    return False


def _neutralise(lines: List[str]) -> List[str]:
    out: List[str] = []
    for line in lines:
        escape = _ESCAPE.match(line)
        assign = None if escape else _ASSIGN.match(line)
        help_end = None if (escape or assign) else _HELP_END.match(line)
        if (escape or assign or help_end) and not _inside_statement(out):
            if assign:
                line = assign.group("lhs") + " = None"
            else:
                line = line[: len(line) - len(line.lstrip())] + "pass"
        out.append(line)
    return out


def _syntax_error(code: str) -> Optional[Tuple[int, int, str]]:
    try:
        # IPython runs top-level `await` (autoawait).
        compile(code, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as exc:
        return exc.lineno or 1, exc.offset or 1, exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:
        return 1, 1, f"cannot parse cell: {type(exc).__name__}"
    return None


def notebook_source(text: str, path: str) -> SourceFile:
    if text.startswith("\ufeff"):  # a BOM left by a caller that did not decode with utf-8-sig
        text = text[1:]
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"malformed notebook: {exc.msg}", exc.lineno, exc.colno) from None
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"malformed notebook: {type(exc).__name__}") from None
    cells = _cells(nb)
    out: List[str] = []
    shown: List[str] = []  # the cells' own lines, before magics are neutralised, for display
    line_map: List[Tuple[int, int]] = []
    errors: List[Tuple[int, int, str]] = []
    python = _is_python(nb)
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise SourceError("malformed notebook: a cell is not an object")
        if cell.get("cell_type") != "code" or not python:
            continue
        lines = _cell_lines(cell)
        if not lines or _is_cell_magic(lines):
            continue
        shown.extend(lines)
        lines = _neutralise(lines)
        error = _syntax_error("\n".join(lines) + "\n")
        if error is not None:
            row, col, message = error
            row = min(max(row, 1), len(lines))
            errors.append((len(out) + row, col, f"syntax error: {message}"))
            # Commented out, not dropped: the lines keep their numbers and `# noqa` comments.
            lines = ["#" + line for line in lines]
        out.extend(lines)
        line_map.extend((number, row) for row in range(1, len(lines) + 1))
    return SourceFile(path=path, text="\n".join(out) + ("\n" if out else ""), line_map=line_map, errors=errors,
                      shown_lines=shown)
