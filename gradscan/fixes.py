"""Applying the fixes rules compute: to a source text, to a file on disk, or as a diff.

A rule's `Report.fix` becomes a `Finding.fix` (a replacement between two 1-based positions, as
the finding's own lines and columns: inside the cell for a notebook). This layer turns those
into new source text and never corrupts a file:

- fixes whose ranges overlap are applied one per pass: each pass takes the fixes that do not
  touch one already taken, the text is checked again, and passes repeat until no fix is left
  (or `MAX_PASSES`, when a fix keeps coming back);
- the fixed text must parse (a notebook: no cell may parse worse than before), else nothing is
  written and the file is reported as not fixed;
- the write is atomic (a temporary file in the same folder, then `os.replace`), keeps the file's
  mode, encoding, byte-order mark and line endings;
- a file whose size, modification time or content changed since it was read is not
  overwritten (another process, an editor, wrote it during the run);
- a notebook is fixed cell by cell: only the `source` of the cells that change differs, outputs
  and metadata stay as they were, byte for byte (a notebook whose JSON layout cannot be
  reproduced exactly is refused with a message rather than rewritten).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from gradscan.findings import Finding

MAX_PASSES = 10
SAFE, UNSAFE = "safe", "unsafe"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class FixResult:
    """What fixing one file did: the text before and after, the fixes applied, or why not."""

    path: str
    before: str = ""
    after: str = ""
    applied: int = 0
    error: Optional[str] = None  # the file was left as it was, for this reason
    applied_codes: List[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.error is None and self.after != self.before


def fix_allowed(code: str, fixable: FrozenSet[str], unsafe: bool) -> bool:
    """Whether the fix of a finding of `code` may be applied: the rule declares a fix, its safety
    is allowed, and the configuration's fixable/unfixable selection keeps the code."""
    from gradscan.rules import REGISTRY

    rule = REGISTRY.get(code)
    if rule is None or rule.fix_safety is None or code not in fixable:
        return False
    return rule.fix_safety == SAFE or (unsafe and rule.fix_safety == UNSAFE)


def applicable(findings: Sequence[Finding], fixable: FrozenSet[str], unsafe: bool) -> List[Finding]:
    return [f for f in findings if f.fix is not None and fix_allowed(f.code, fixable, unsafe)]


# -- edits on text -----------------------------------------------------------------------------
def _line_starts(text: str) -> List[int]:
    starts = [0]
    for m in _LINE_BREAK.finditer(text):
        starts.append(m.end())
    return starts


def _offset(starts: List[int], text: str, line: int, col: int) -> Optional[int]:
    if not 1 <= line <= len(starts) or col < 1:
        return None
    offset = starts[line - 1] + col - 1
    return offset if offset <= len(text) else None


def _newline_of(text: str) -> str:
    m = _LINE_BREAK.search(text)
    return m.group() if m else "\n"


def apply_edits(text: str, findings: Sequence[Finding]) -> Tuple[str, List[Finding]]:
    """`text` with the fixes of `findings` that do not overlap one another applied (the first by
    position wins; the others wait for the next pass). Returns (new text, findings applied)."""
    starts = _line_starts(text)
    newline = _newline_of(text)
    edits = []
    for f in findings:
        fx = f.fix
        a, b = _offset(starts, text, fx.line, fx.col), _offset(starts, text, fx.end_line, fx.end_col)
        if a is None or b is None or b < a:
            continue
        # A replacement spanning lines is written with the file's own line break.
        edits.append((a, b, _LINE_BREAK.sub(newline, fx.replacement), f))
    edits.sort(key=lambda e: (e[0], e[1], e[3].code))
    taken = []
    end = -1
    for a, b, new, f in edits:
        if a < end or (taken and a == end and a == b):  # overlaps (or inserts at) the previous edit's span
            continue
        if text[a:b] == new:
            continue
        taken.append((a, b, new, f))
        end = b
    out = []
    pos = 0
    for a, b, new, _f in taken:
        out.append(text[pos:a])
        out.append(new)
        pos = b
    out.append(text[pos:])
    return "".join(out), [t[3] for t in taken]


def python_parses(text: str) -> bool:
    import libcst as cst

    from gradscan.engine import _python_syntax_error

    if _python_syntax_error(text) is not None:
        return False
    try:
        cst.parse_module(text)
    except Exception:  # any failure of the parser means: do not write this
        return False
    return True


# -- whole sources -----------------------------------------------------------------------------
Checker = Callable[[str], List[Finding]]  # checks a source text (as the file would hold it)


def fix_python_text(text: str, check: Checker, fixable: FrozenSet[str], unsafe: bool,
                    findings: Optional[List[Finding]] = None) -> Tuple[str, List[Finding], Optional[str]]:
    """Apply fixes pass by pass until none is left: (new text, fixes applied, error or None).
    Each pass's result must parse; a pass that would not is dropped and the loop stops there."""
    applied: List[Finding] = []
    current = text
    for _ in range(MAX_PASSES):
        todo = applicable(findings if findings is not None else check(current), fixable, unsafe)
        findings = None
        if not todo:
            break
        new, taken = apply_edits(current, todo)
        if not taken or new == current:
            break
        if not python_parses(new):
            return current, applied, "a fix produced code that does not parse (a bug in gradscan): not applied"
        current = new
        applied.extend(taken)
    return current, applied, None


def fix_notebook_text(text: str, check: Checker, fixable: FrozenSet[str], unsafe: bool
                      ) -> Tuple[str, List[Finding], Optional[str]]:
    """A notebook's JSON with its cells fixed, every byte outside the changed cells' `source` kept."""
    from gradscan.files.notebook import notebook_source

    try:
        nb = json.loads(text)
    except ValueError:
        return text, [], None  # not JSON: GS001's business, nothing to fix
    cells = nb.get("cells") if isinstance(nb, dict) else None
    first = applicable(check(text), fixable, unsafe)
    if not first:
        return text, [], None
    if not isinstance(cells, list):
        return text, [], "notebook not fixed: only nbformat 4 notebooks (a top-level list of cells) are fixed"
    dump = _json_layout(text, nb)
    if dump is None:
        return text, [], "notebook not fixed: its JSON layout cannot be reproduced exactly, so rewriting it would change bytes outside the cells' source"
    try:
        errors_before = len(notebook_source(text, "x.ipynb").errors)
    except Exception:
        return text, [], None
    applied: List[Finding] = []
    current, todo = text, first
    for _ in range(MAX_PASSES):
        if not todo:
            break
        by_cell: Dict[int, List[Finding]] = {}
        for f in todo:
            if f.cell is not None and 1 <= f.cell <= len(cells) and isinstance(cells[f.cell - 1], dict):
                by_cell.setdefault(f.cell, []).append(f)
        taken_all: List[Finding] = []
        for number, group in by_cell.items():
            cell = cells[number - 1]
            src = cell.get("source", "")
            joined = "".join(src) if isinstance(src, list) else src
            if not isinstance(joined, str):
                continue
            new, taken = apply_edits(joined, group)
            if taken and new != joined:
                # Same shape as before: a list of lines (each keeping its line break) or one string.
                cell["source"] = new.splitlines(keepends=True) if isinstance(src, list) else new
                taken_all.extend(taken)
        if not taken_all:
            break
        candidate = dump(nb)
        try:
            errors_after = len(notebook_source(candidate, "x.ipynb").errors)
        except Exception:
            errors_after = errors_before + 1
        if errors_after > errors_before:
            return current, applied, "a fix produced a cell that does not parse (a bug in gradscan): not applied"
        current = candidate
        applied.extend(taken_all)
        todo = applicable(check(current), fixable, unsafe)
    return current, applied, None


def _json_layout(text: str, nb) -> Optional[Callable[[object], str]]:
    """The json.dumps settings that write this very notebook back byte for byte (nbformat's are
    indent 1, sorted keys, non-ASCII kept), or None when none does."""
    for indent in (1, 2, 4, None, 0, 3):
        for sort_keys in (True, False):
            for ensure_ascii in (False, True):
                for tail in ("\n", ""):
                    def dump(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii, tail=tail):
                        return json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) + tail
                    try:
                        if dump(nb) == text:
                            return dump
                    except (TypeError, ValueError):
                        return None
    return None


# -- files -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Stamp:
    size: int
    mtime_ns: int
    digest: str


def _stamp(path: Path, data: Optional[bytes] = None) -> _Stamp:
    st = path.stat()
    if data is None:
        data = path.read_bytes()
    return _Stamp(st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest())


def _decode(data: bytes, notebook: bool) -> Tuple[str, str, bool]:
    """(text, encoding, had a BOM), as gradscan reads the file."""
    import io
    import tokenize

    from gradscan.files.source import decode_python

    bom = data.startswith(b"\xef\xbb\xbf")
    if notebook:
        return data.decode("utf-8-sig"), "utf-8", bom
    text = decode_python(data)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    return text, encoding, bom


def fix_file(file: Path, display: str, check_text: Callable[[str, str], List[Finding]], fixable: FrozenSet[str],
             unsafe: bool, write: bool = True) -> FixResult:
    """Fix one file. `check_text(text, display)` checks a version of its content. With `write`
    False nothing is written (--diff): the result still holds the text before and after."""
    result = FixResult(display)
    notebook = file.suffix == ".ipynb"
    try:
        data = file.read_bytes()
        stamp = _stamp(file, data)
        text, encoding, bom = _decode(data, notebook)
    except Exception:  # unreadable or undecodable: GS001 says so; nothing to fix
        return result
    result.before = result.after = text
    checker = lambda t: check_text(t, display)  # noqa: E731
    if notebook:
        after, applied, error = fix_notebook_text(text, checker, fixable, unsafe)
    else:
        after, applied, error = fix_python_text(text, checker, fixable, unsafe)
    result.applied_codes = sorted(f.code for f in applied)
    if error is not None and after == text:
        result.error = error
        return result
    result.error = error
    result.after = after
    result.applied = len(applied)
    if not write or after == text:
        return result
    try:
        new_data = after.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        result.error, result.after, result.applied = "the fixed text cannot be written in the file's encoding: not fixed", text, 0
        return result
    if bom and not new_data.startswith(b"\xef\xbb\xbf"):
        new_data = b"\xef\xbb\xbf" + new_data
    try:
        if _stamp(file) != stamp:
            result.error, result.after, result.applied = "changed by another process while gradscan was fixing it: not overwritten", text, 0
            return result
        atomic_write(file, new_data)
    except OSError as exc:
        result.error, result.after, result.applied = f"cannot write the fixed file: {exc.strerror or exc}", text, 0
    return result


def atomic_write(file: Path, data: bytes) -> None:
    """Write `data` to `file` through a temporary file in the same folder and a rename: a reader
    sees the old content or the new one, never a half-written file. The mode is kept."""
    target = file.resolve()  # a symbolic link: write the file it points to, keep the link
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".gradscan-fix", dir=str(target.parent))
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def unified_diff(result: FixResult) -> str:
    if result.after == result.before:
        return ""
    before = result.before.splitlines(keepends=True)
    after = result.after.splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, fromfile=f"a/{result.path}", tofile=f"b/{result.path}")
    return "".join(l if l.endswith(("\n", "\r")) else l + "\n\\ No newline at end of file\n" for l in lines)


def finding_diff(finding: Finding, line_text: Callable[[Optional[int], int], str]) -> str:
    """The lines a finding's fix touches, before and after, as `-`/`+` lines (for `full` output).
    `line_text(cell, line)` is the line as the user sees it."""
    fx = finding.fix
    if fx is None:
        return ""
    rows = [line_text(finding.cell, n) for n in range(fx.line, fx.end_line + 1)]
    if any(r is None for r in rows) or not rows:
        return ""
    first, last = rows[0], rows[-1]
    if fx.col - 1 > len(first) or fx.end_col - 1 > len(last):
        return ""
    new = first[: fx.col - 1] + fx.replacement + last[fx.end_col - 1:]
    old = "\n".join(rows)
    return "".join(f"- {l}\n" for l in old.split("\n")) + "".join(f"+ {l}\n" for l in new.split("\n"))
