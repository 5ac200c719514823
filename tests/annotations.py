"""Expected findings written beside the lines, flake8-bugbear style: `# error: GS201` or
`# error: GS201, GS204`. In notebooks the comment sits in the cell's line."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Set, Tuple

EXPECT = re.compile(r"#\s*error:\s*(?P<codes>GS\d{3}(?:\s*,\s*GS\d{3})*)")


def expected_in_text(text: str) -> Set[Tuple[int, str]]:
    out = set()
    for number, line in enumerate(text.splitlines(), start=1):
        m = EXPECT.search(line)
        if m:
            out.update((number, c.strip()) for c in m.group("codes").split(","))
    return out


def expected_in_file(path: Path) -> Set[tuple]:
    """(line, code) for Python files; (cell, line, code) for notebooks."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return expected_in_text(text)
    out = set()
    try:
        cells = json.loads(text).get("cells", [])
    except ValueError:
        return out
    for number, cell in enumerate(cells, start=1):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        out.update((number, line, code) for line, code in expected_in_text(src))
    return out
