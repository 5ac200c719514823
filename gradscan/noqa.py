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
from typing import Dict, Iterator, Optional, Tuple

from gradscan.files.source import split_lines

NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
SKIP_FILE = re.compile(r"^\s*#\s*gradscan\s*:\s*skip-file\b", re.IGNORECASE | re.MULTILINE)
_SPLIT = re.compile(r"[,\s]+")


def skip_file(text: str) -> bool:
    # The marker is case-insensitive; the cheap test first (most files never mention gradscan).
    if "gradscan" not in text and "gradscan" not in text.lower():
        return False
    return SKIP_FILE.search(text) is not None


def noqa_lines(text: str) -> Dict[int, Optional[Tuple[str, ...]]]:
    """Line number -> None (bare noqa: everything) or the codes it names."""
    out: Dict[int, Optional[Tuple[str, ...]]] = {}
    if "noqa" not in text.lower():
        return out
    for number, line in enumerate(split_lines(text), start=1):
        if "#" not in line:
            continue
        m = NOQA.search(line)
        if m is None:
            continue
        codes = m.group("codes")
        out[number] = None if not codes else tuple(c.upper() for c in _SPLIT.split(codes.strip()) if c)
    if out:
        for first, last in _joined_lines(text):
            found = next((n for n in range(first, last + 1) if n in out), None)
            if found is not None:
                out.update(dict.fromkeys(range(first, last + 1), out[found]))
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
