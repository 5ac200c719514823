"""Suppression comments, with flake8's syntax and meaning.

`# noqa` silences every finding on its line; `# noqa: GS201,GS3` only those codes (a code
matches by prefix, as in flake8; codes of other tools are simply not ours); case-insensitive.
`# gradscan: skip-file` anywhere in a file silences the whole file.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
SKIP_FILE = re.compile(r"^\s*#\s*gradscan\s*:\s*skip-file\b", re.IGNORECASE | re.MULTILINE)
_SPLIT = re.compile(r"[,\s]+")


def skip_file(text: str) -> bool:
    return "gradscan" in text and SKIP_FILE.search(text) is not None


def noqa_lines(text: str) -> Dict[int, Optional[Tuple[str, ...]]]:
    """Line number -> None (bare noqa: everything) or the codes it names."""
    out: Dict[int, Optional[Tuple[str, ...]]] = {}
    if "noqa" not in text.lower():
        return out
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        m = NOQA.search(line)
        if m is None:
            continue
        codes = m.group("codes")
        out[number] = None if not codes else tuple(c.upper() for c in _SPLIT.split(codes.strip()) if c)
    return out


def suppressed(code: str, line: int, table: Dict[int, Optional[Tuple[str, ...]]]) -> bool:
    if line not in table:
        return False
    codes = table[line]
    return codes is None or code.startswith(codes)
