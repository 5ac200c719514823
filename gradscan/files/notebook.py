"""Jupyter notebooks: the code cells become one module, so imports in cell 1 serve cell 3.

Each cell is read the way IPython's input transformer (IPython.core.inputtransformer2) reads
it, but every line keeps its number and every column its place, so that findings map back to
(cell, line in the cell, column):

- clean-up: the first line's indentation comes off the lines that have it, and pasted prompts
  (`>>> `/`... `, `In [3]: `/`   ...: `) come off when the first or second line has one; how
  much was cut from each line is recorded and added back to columns;
- a cell magic on the first line (`%%bash`, `%%writefile`) makes the cell not Python: it is
  left out, unless the magic runs its body as Python in the kernel (`%%capture`, `%%time`...):
  then that body is read as a cell of its own;
- where a logical line starts, an escape (`%magic`, `!cmd`, `!!cmd`, `?obj`, `/f a`, `,f a`,
  `;f a`) becomes `pass` at the same indentation (so a block whose body was only a magic stays
  valid), and the lines it continues with trailing backslashes become blank; a logical line
  ending in `obj?`/`obj??` becomes `pass`; `files = !ls` and `t = %time f()` (the statement's
  first `=` followed by `!` or `%name`) become `files = None`;
- a `%` or `!` that continues an expression (`("%d items"\\n % n)`) or sits inside a string is
  Python and is left alone: as IPython, escapes are only recognised where a statement starts.

A cell that still does not parse is reported as GS001 at its own line and commented out, so the
rest of the notebook is still checked. A notebook that is not JSON, or not shaped like one, is a
`SourceError` (GS001 for the whole file). A notebook whose kernel is not Python yields no code.
"""
from __future__ import annotations

import ast
import json
import re
import warnings
from typing import List, Optional, Tuple

from gradscan.files.source import SourceError, SourceFile

# IPython's escapes where a statement starts (the first token of a logical line): magics `%`,
# shell `!`, help `?`, autocall `/` and autoquote `,` `;`; not the operators `!=`, `%=`, `/=`, `//`.
_ESCAPE = re.compile(r"[ \t]*(?:[!%](?!=)|\?|/(?![/=])|,|;)")
# After the statement's first `=`: `files = !ls`, `t = %time f()` (a magic's name must follow).
_ASSIGNED_COMMAND = re.compile(r"[ \t]*(?:!(?!=)|%[ \t]*[^\W\d])")
# The name before a help query's `?`: IPython searches for `%{0,2}name(.name)*??` at the end of
# the line, which matches exactly when the last name (the characters after the last `.` or `%`)
# holds a letter, `_` or `*` to start from. Checked from the end: a search would be quadratic.
_NAME_CHAR = re.compile(r"[\w*]")
_NAME_START = re.compile(r"[A-Za-z_*]")
# A cell magic's first line; `%%timeit?` is help, not a cell magic.
_CELL_MAGIC = re.compile(r"%%(\w*)(?!\w*\?)")
# Cell magics whose body IPython runs as Python in the kernel (script magics such as `%%python`
# run elsewhere; `%%bash`, `%%writefile`, `%%html`... hold no Python): the rest is left out.
_PYTHON_CELL_MAGICS = frozenset({"capture", "time", "timeit", "prun", "debug"})
_MAX_NESTED_MAGICS = 64
_INDENT = re.compile(r"[ \t]*")
_CLASSIC_PROMPT = re.compile(r"(?:>>>|\.\.\.)(?: |$)")
_CLASSIC_FIRST = re.compile(r">>>(?: |$)")
_IPYTHON_PROMPT = re.compile(r"In \[\d+\]: |\s*\.{3,}: ?")
# What the scanner stops at in Python text: string delimiters, comments, brackets, a backslash
# ending the line, and an `=` that is an assignment (not `==`, `<=`, `+=`, `:=`...).
_EVENT = re.compile(r"'''|\"\"\"|['\"#()\[\]{}]|\\$|(?<![=!<>+\-*/%&|^@:])=(?!=)")
# The rest of an open string through its closing delimiter: a backslash skips the character
# after it (in raw strings too), a triple-quoted string may end on a later line.
_STRING_END = {
    "'": re.compile(r"(?:\\.|[^\\'])*'"),
    '"': re.compile(r'(?:\\.|[^\\"])*"'),
    "'''": re.compile(r"(?:\\.|[^\\])*?'''"),
    '"""': re.compile(r'(?:\\.|[^\\])*?"""'),
}
_ESCAPED_END = re.compile(r"(?:\\.|[^\\])*\\$")  # a line ending in a backslash that escapes the newline
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


class _Scanner:
    """Follows Python text physical line by physical line, as far as IPython needs to know where
    a statement starts: brackets, strings (which may span lines) and backslash continuations.
    A regex skips everything in between, so a line costs a few searches, not a loop per character."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: Optional[str] = None  # the delimiter of a string still open at the line's end
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return not (self.depth or self.quote or self.continued)

    def feed(self, line: str) -> Tuple[Optional[int], bool]:
        """Scan one line: (column of its first `=` at bracket depth 0, whether it has a comment)."""
        assign: Optional[int] = None
        self.continued = False
        pos: Optional[int] = 0
        if self.quote:
            pos = self._close(line, 0)
        while pos is not None:
            m = _EVENT.search(line, pos)
            if m is None:
                break
            token, pos = m.group(), m.end()
            if token[0] in "'\"":
                self.quote = token
                pos = self._close(line, pos)
            elif token == "#":
                return assign, True
            elif token in "([{":
                self.depth += 1
            elif token in ")]}":
                self.depth = max(self.depth - 1, 0)  # as IPython: a stray closer does not go below 0
            elif token == "\\":
                self.continued = True
            elif self.depth == 0 and assign is None:
                assign = m.start()
        return assign, False

    def _close(self, line: str, pos: int) -> Optional[int]:
        """Where the open string ends on this line (None: it goes on, or the line is done)."""
        m = _STRING_END[self.quote].match(line, pos)
        if m is not None:
            self.quote = None
            return m.end()
        if len(self.quote) == 1 and not _ESCAPED_END.match(line, pos):
            self.quote = None  # an unterminated one-line string ends with its line (a syntax error)
        return None


def _continued_end(lines: List[str], row: int) -> int:
    """The last line of an IPython command continued with backslashes (`!pip install a \\`)."""
    while row + 1 < len(lines) and lines[row].endswith("\\"):
        row += 1
    return row


def _is_help_query(line: str) -> bool:
    """`obj?`, `np.mean??`, `x = torch.nn.Linear?` (IPython's help at the end of a line)."""
    text = line.rstrip()
    if not text.endswith("?"):
        return False
    text = text[:-2] if text.endswith("??") else text[:-1]
    at = len(text)
    while at and _NAME_CHAR.match(text, at - 1):
        at -= 1
    return _NAME_START.search(text, at) is not None


def _neutralise(lines: List[str]) -> List[str]:
    """IPython's token transforms (escaped commands, `x = !cmd`, `x = %magic`, `obj?`), each
    replaced by Python of the same shape on the same number of lines. IPython looks for them
    only where a logical line starts, so each logical line is taken whole."""
    out: List[str] = []
    row = 0
    while row < len(lines):
        line = lines[row]
        indent = line[: len(line) - len(line.lstrip())]
        if _ESCAPE.match(line):
            end = _continued_end(lines, row)
            out.append(indent + "pass")  # `pass` keeps a block whose body was only the command valid
            out.extend("" for _ in range(end - row))
            row = end + 1
            continue
        scanner = _Scanner()
        end, assign, comment = row, None, False
        while True:
            found, comment = scanner.feed(lines[end])
            if assign is None and found is not None:
                assign = (end, found)
            if scanner.at_statement_start or end + 1 == len(lines):
                break
            end += 1
        # Only a complete logical line: `obj?` after an unclosed bracket must not hide the error.
        if not comment and not scanner.depth and scanner.quote is None and _is_help_query(lines[end]):
            out.append(indent + "pass")
            out.extend("" for _ in range(end - row))
        elif assign is not None and _ASSIGNED_COMMAND.match(lines[assign[0]], assign[1] + 1):
            at, col = assign
            end = _continued_end(lines, at)
            out.extend(lines[row:at])
            out.append(lines[at][: col + 1] + " None")
            out.extend("" for _ in range(end - at))
        else:
            out.extend(lines[row:end + 1])
        row = end + 1
    return out


def _strip_prefixes(lines: List[str], shift: List[int], first: int, pattern: "re.Pattern", initial: "re.Pattern"):
    """IPython's prompt strippers: a prompt on the first line, or one on the second, means every
    line's prompt goes."""
    if not (initial.match(lines[first]) or (first + 1 < len(lines) and pattern.match(lines[first + 1]))):
        return
    for k in range(first, len(lines)):
        m = pattern.match(lines[k])
        if m and m.end():
            lines[k] = lines[k][m.end():]
            shift[k] += m.end()


def _cleanup(lines: List[str], shift: List[int], first: int) -> None:
    """IPython's clean-up from the cell's first non-blank line on: that line's indentation comes
    off every line that has it, then pasted `>>> `/`... ` and `In [3]: `/`   ...: ` prompts."""
    indent = _INDENT.match(lines[first]).group()
    if indent:
        for k in range(first, len(lines)):
            if lines[k].startswith(indent):
                lines[k] = lines[k][len(indent):]
                shift[k] += len(indent)
    _strip_prefixes(lines, shift, first, _CLASSIC_PROMPT, _CLASSIC_FIRST)
    _strip_prefixes(lines, shift, first, _IPYTHON_PROMPT, _IPYTHON_PROMPT)


def _transform_cell(lines: List[str]) -> Optional[Tuple[List[str], List[int]]]:
    """A cell as the Python IPython would run, line for line: (lines, columns cut from the start
    of each line), or None when the cell is not Python (a cell magic such as `%%bash`)."""
    lines = list(lines)
    shift = [0] * len(lines)
    start = 0
    # The body of `%%capture`, `%%time`... is a cell of its own to IPython, cleaned up and read
    # alike (nested magics included, up to a bound that keeps a crafted cell linear).
    for _ in range(_MAX_NESTED_MAGICS):
        first = next((k for k in range(start, len(lines)) if lines[k].strip()), None)
        if first is None:
            return lines, shift
        _cleanup(lines, shift, first)
        magic = _CELL_MAGIC.match(lines[first])
        if magic is None:
            break
        if magic.group(1) not in _PYTHON_CELL_MAGICS:
            return None
        lines[first] = ""
        start = first + 1
    return lines[:start] + _neutralise(lines[start:]), shift


def _syntax_error(code: str) -> Optional[Tuple[int, int, str]]:
    try:
        # IPython runs top-level `await` (autoawait). The scanned code's own warnings (invalid
        # escapes, `None()`) are not gradscan's to print.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as exc:
        return exc.lineno or 1, exc.offset or 1, exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:
        return 1, 1, f"cannot parse cell: {type(exc).__name__}"
    return None


def _position(text: str, offset: int, bom: bool) -> Tuple[int, int]:
    """1-based (line, column) of a character offset, lines broken as the rest of gradscan breaks
    them (json counts only `\\n`, so a `\\r` would put its column past the line's end)."""
    before = _NEWLINE.split(text[:offset])
    return len(before), len(before[-1]) + 1 + (bom and len(before) == 1)


def notebook_source(text: str, path: str) -> SourceFile:
    bom = text.startswith("\ufeff")
    if bom:  # a BOM left by a caller that did not decode with utf-8-sig
        text = text[1:]
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"malformed notebook: {exc.msg}", *_position(text, exc.pos, bom)) from None
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"malformed notebook: {type(exc).__name__}") from None
    cells = _cells(nb)
    out: List[str] = []
    shown: List[str] = []  # the cells' own lines, before magics are neutralised, for display
    line_map: List[Tuple[int, int]] = []
    shifts: List[int] = []  # columns cut from the start of each module line (a cell's indentation, prompts)
    errors: List[Tuple[int, int, str]] = []
    python = _is_python(nb)
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise SourceError("malformed notebook: a cell is not an object")
        if cell.get("cell_type") != "code" or not python:
            continue
        shown_cell = _cell_lines(cell)
        transformed = _transform_cell(shown_cell) if shown_cell else None
        if transformed is None:
            continue
        lines, cut = transformed
        shown.extend(shown_cell)
        error = _syntax_error("\n".join(lines) + "\n")
        if error is not None:
            row, col, message = error
            row = min(max(row, 1), len(lines))
            errors.append((len(out) + row, col, f"syntax error: {message}"))
            # Commented out, not dropped: the lines keep their numbers and `# noqa` comments.
            lines = ["#" + line for line in lines]
        out.extend(lines)
        shifts.extend(cut)
        line_map.extend((number, row) for row in range(1, len(lines) + 1))
    return SourceFile(path=path, text="\n".join(out) + ("\n" if out else ""), line_map=line_map, errors=errors,
                      shown_lines=shown, column_shifts=shifts if any(shifts) else None)
