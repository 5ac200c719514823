"""A scanned input, as text, with the map from its lines back to what the user sees.

A `.py` file maps one to one. A notebook is analysed as one module made of its code cells,
so `line_map` turns a module line into (cell number, line inside the cell).
"""
from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


class SourceError(Exception):
    """The input cannot be turned into text (unreadable, undecodable, malformed notebook)."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


@dataclass
class SourceFile:
    path: str  # as displayed and matched against per-file-ignores
    text: str
    # For notebooks: module line (1-based) -> (cell number, line in cell). None for plain files.
    line_map: Optional[list] = field(default=None, repr=False)
    # Problems found while building the text, as (module line, column, message): reported as
    # GS001 beside the other findings (a notebook cell that does not parse is commented out).
    errors: list = field(default_factory=list, repr=False)

    @property
    def is_notebook(self) -> bool:
        return self.line_map is not None

    def locate(self, line: int) -> tuple[Optional[int], int]:
        """(cell, line) for a module line; cell is None outside notebooks."""
        if self.line_map is None:
            return None, line
        if 1 <= line <= len(self.line_map):
            return self.line_map[line - 1]
        return (self.line_map[-1] if self.line_map else (1, line))

    def physical_line(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 1 <= line <= len(lines) else ""


def decode_python(data: bytes) -> str:
    """Decode Python source as the interpreter would: BOM, then a PEP 263 cookie, then UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # unknown or conflicting coding cookie
        raise SourceError(f"cannot decode file: {exc}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode file as {encoding}: {exc.reason if hasattr(exc, 'reason') else exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise SourceError("file contains NUL bytes (binary file?)")
    return text


def source_from_text(text: str, path: str) -> SourceFile:
    if path.endswith(".ipynb"):
        from gradscan.files.notebook import notebook_source

        return notebook_source(text, path)
    return SourceFile(path=path, text=text)


def read_source(file: Path, display: str) -> SourceFile:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None
    if display.endswith(".ipynb"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(f"cannot decode notebook as UTF-8: {exc.reason}") from None
        return source_from_text(text, display)
    return SourceFile(path=display, text=decode_python(data))
