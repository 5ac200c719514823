"""Jupyter notebooks: the code cells become one module, so imports in cell 1 serve cell 3.

Cell magics (`%%time`) make a whole cell non-Python: it is left out. Line magics (`%matplotlib`)
and shell escapes (`!pip install`) become `pass`, so every other line keeps its number.
"""
from __future__ import annotations

import json
import re

from gradscan.files.source import SourceError, SourceFile

_MAGIC = re.compile(r"^\s*[%!]")


def _cell_lines(cell: dict) -> list:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(src)
    if not isinstance(src, str):
        raise SourceError("malformed notebook: a cell's source is not text")
    return src.splitlines()


def notebook_source(text: str, path: str) -> SourceFile:
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"malformed notebook: {exc.msg}", exc.lineno, exc.colno) from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise SourceError("malformed notebook: no list of cells")
    out: list = []
    line_map: list = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise SourceError("malformed notebook: a cell is not an object")
        if cell.get("cell_type") != "code":
            continue
        lines = _cell_lines(cell)
        if lines and lines[0].lstrip().startswith("%%"):
            continue
        for row, line in enumerate(lines, start=1):
            # `pass` at the magic's indentation keeps a block that held only a magic valid.
            out.append(line[: len(line) - len(line.lstrip())] + "pass" if _MAGIC.match(line) else line)
            line_map.append((number, row))
    return SourceFile(path=path, text="\n".join(out) + ("\n" if out else ""), line_map=line_map)
