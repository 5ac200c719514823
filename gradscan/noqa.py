"""Suppression comments, with flake8's syntax and meaning.

`# noqa` silences every finding on its line; `# noqa: GS201,GS3` only those codes (a code
matches by prefix, as in flake8; codes of other tools are simply not ours); case-insensitive.
As in flake8, the lines of a multi-line string or of a backslash-continued statement count as
one line: a `# noqa` at its end covers all of them.
`# gradscan: skip-file` anywhere in a file silences the whole file.
"""
from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from gradscan.files.source import split_lines

NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
SKIP_FILE = re.compile(r"^\s*#\s*gradscan\s*:\s*skip-file\b", re.IGNORECASE | re.MULTILINE)
_SPLIT = re.compile(r"[,\s]+")


def skip_file(text: str) -> bool:
    # The marker is case-insensitive; the cheap test first (most files never mention gradscan).
    if "gradscan" not in text and "gradscan" not in text.lower():
        return False
    return SKIP_FILE.search(text) is not None


class Directive(NamedTuple):
    """One `# noqa` comment: its physical line, the columns of the comment (1-based, end
    exclusive), the codes it names (None: a bare noqa) and the lines it covers."""

    line: int
    col: int
    end_col: int
    codes: Optional[Tuple[str, ...]]
    covers: Tuple[int, ...]


def directives(text: str) -> List[Directive]:
    if "noqa" not in text.lower():
        return []
    found = []
    for number, line in enumerate(split_lines(text), start=1):
        if "#" not in line:
            continue
        m = NOQA.search(line)
        if m is None:
            continue
        codes = m.group("codes")
        codes = None if not codes else tuple(c.upper() for c in _SPLIT.split(codes.strip()) if c)
        found.append(Directive(number, m.start() + 1, m.end() + 1, codes, (number,)))
    if found:
        joined = {n: (first, last) for first, last in _joined_lines(text) for n in range(first, last + 1)}
        found = [d._replace(covers=tuple(range(joined[d.line][0], joined[d.line][1] + 1))) if d.line in joined else d
                 for d in found]
    return found


def noqa_lines(text: str) -> Dict[int, Optional[Tuple[str, ...]]]:
    """Line number -> None (bare noqa: everything) or the codes it names."""
    out: Dict[int, Optional[Tuple[str, ...]]] = {}
    for d in directives(text):
        for n in d.covers:
            out.setdefault(n, d.codes)
    return out


def _joined_lines(text: str) -> Iterator[Tuple[int, int]]:
    """(first, last) line of each multi-line string or backslash-continued line, as flake8 joins them."""
    first, last = None, -1
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            first = tok.start[0] if first is None else min(first, tok.start[0])
            last = max(last, tok.end[0])
            if tok.type in (tokenize.NL, tokenize.NEWLINE):
                if last > first:
                    yield first, last
                first, last = None, -1
    except (tokenize.TokenError, SyntaxError, ValueError):
        return  # a file that does not tokenize: its noqa comments stay per line


def suppressed(code: str, line: int, table: Dict[int, Optional[Tuple[str, ...]]]) -> bool:
    if line not in table:
        return False
    codes = table[line]
    return codes is None or code.startswith(codes)


def unused(text: str, silenced: Dict[int, List[str]]) -> List[Tuple[Directive, Tuple[str, ...]]]:
    """The gradscan codes of each `# noqa: ...` that silenced nothing: `silenced` maps a line to
    the codes of the findings suppressed there. A bare `# noqa` and other tools' codes may serve
    other tools, so they are never reported; nor is a directive that names GS010 itself."""
    out = []
    for d in directives(text):
        if d.codes is None or any("GS010".startswith(c) for c in d.codes):
            continue
        hit = [code for n in d.covers for code in silenced.get(n, ())]
        idle = tuple(c for c in d.codes if c.startswith("GS") and not any(code.startswith(c) for code in hit))
        if idle:
            out.append((d, idle))
    return out


def add_to_line(line: str, codes: List[str]) -> str:
    """`line` (with its line ending) with `codes` added to its `# noqa: ...`, or a new
    `  # noqa: CODES` comment at its end."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    m = NOQA.search(body) if "#" in body else None
    if m is not None and m.group("codes"):
        have = [c.upper() for c in _SPLIT.split(m.group("codes").strip()) if c]
        new = [c for c in codes if c not in have]
        if not new:
            return line
        return body[:m.end("codes")] + ", " + ", ".join(new) + body[m.end("codes"):] + ending
    if m is not None:  # a bare noqa silences everything already
        return line
    return body.rstrip() + "  # noqa: " + ", ".join(codes) + ending


def add_noqa(text: str, wanted: Dict[int, List[str]]) -> Tuple[str, int]:
    """`text` with `# noqa: CODES` for each line of `wanted` (line -> codes found there), and the
    number of lines changed. A line inside a multi-line string or a backslash-continued statement
    gets its comment at the statement's last line (a comment cannot go inside a string, and
    flake8's noqa there covers every line of it)."""
    last_of = {n: last for first, last in _joined_lines(text) for n in range(first, last + 1)}
    merged: Dict[int, List[str]] = {}
    for line, codes in wanted.items():
        target = merged.setdefault(last_of.get(line, line), [])
        target.extend(c for c in sorted(codes) if c not in target)
    lines = text.splitlines(keepends=True)
    changed = 0
    for line, codes in merged.items():
        if 1 <= line <= len(lines):
            new = add_to_line(lines[line - 1], codes)
            changed += new != lines[line - 1]
            lines[line - 1] = new
    return "".join(lines), changed
