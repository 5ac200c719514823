"""A scanned input, as text, with the map from its lines back to what the user sees.

A `.py` file maps one to one. A notebook is analysed as one module made of its code cells,
so `line_map` turns a module line into (cell number, line inside the cell).
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

# Python's line breaks. `str.splitlines` also breaks at form feeds, \x1c-\x1e, \x85 and
# \u2028, which the parser does not: it would shift every line number after one of them.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> List[str]:
    """The physical lines of a source text, numbered as the parser numbers them."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


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
    # For notebooks: each module line as the cell holds it (a magic, not the `pass` checked in
    # its place; a broken cell's line, not commented out). None for plain files.
    shown_lines: Optional[list] = field(default=None, repr=False)
    # For notebooks: per module line, how many characters were cut from its start (IPython drops
    # a cell's common indentation and pasted prompts), added back to columns. None: no cut.
    column_shifts: Optional[list] = field(default=None, repr=False)

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

    def column(self, line: int, col: int) -> int:
        """A column of module line `line` as a column of the line the user wrote."""
        if self.column_shifts is None or not 1 <= line <= len(self.column_shifts):
            return col
        return col + self.column_shifts[line - 1]

    def physical_line(self, line: int) -> str:
        lines = split_lines(self.text)
        return lines[line - 1] if 1 <= line <= len(lines) else ""

    def display_line(self, cell: Optional[int], line: int) -> str:
        """The text of a line as the user sees it: `line` of `cell` in a notebook."""
        if self.line_map is None:
            return self.physical_line(line) if cell is None else ""
        try:
            row = self.line_map.index((cell, line))
        except ValueError:
            return ""
        if self.shown_lines is not None and row < len(self.shown_lines):
            return self.shown_lines[row]
        return self.physical_line(row + 1)


def decode_python(data: bytes) -> str:
    """Decode Python source as the interpreter would: BOM, then a PEP 263 cookie, then UTF-8."""
    if b"\x00" in data:
        raise SourceError("file contains NUL bytes (binary file?)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if not str(exc).startswith("invalid or missing encoding declaration"):
            raise SourceError(f"cannot decode file: {exc}") from None  # unknown or conflicting cookie
        encoding = "utf-8"  # no cookie and not UTF-8 in the first two lines: locate the bad byte below
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, col = _byte_position(data, exc.start, encoding)
        raise SourceError(
            f"cannot decode file as {encoding}: {exc.reason} (byte 0x{data[exc.start]:02x}); "
            "save it as UTF-8 or declare its encoding (PEP 263)", line, col) from None
    except LookupError as exc:
        raise SourceError(f"cannot decode file: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _byte_position(data: bytes, offset: int, encoding: str) -> tuple:
    """1-based (line, column) of a byte offset, the column counted in characters."""
    start = max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1
    line = len(split_lines(data[:start].decode(encoding, errors="replace"))) + 1 if start else 1
    return line, len(data[start:offset].decode(encoding, errors="replace")) + 1


def source_from_text(text: str, path: str) -> SourceFile:
    if path.endswith(".ipynb"):
        from gradscan.files.notebook import notebook_source

        return notebook_source(text, path)
    return SourceFile(path=path, text=text)


def source_from_bytes(data: bytes, path: str) -> SourceFile:
    """A file's bytes as a source: notebooks are UTF-8 JSON, Python files follow PEP 263."""
    if path.endswith(".ipynb"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(f"cannot decode notebook as UTF-8: {exc.reason}") from None
        return source_from_text(text, path)
    return SourceFile(path=path, text=decode_python(data))


def read_source(file: Path, display: str) -> SourceFile:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None
    return source_from_bytes(data, display)


class SourceLines:
    """Source lines for `--output-format full`, read once per file; preloaded for standard input."""

    def __init__(self, preloaded: Optional[Dict[str, SourceFile]] = None) -> None:
        self._files: Dict[str, Optional[SourceFile]] = dict(preloaded or {})

    def preload(self, path: str, data: bytes) -> None:
        """Use this content for `path` (standard input) instead of reading the file."""
        try:
            self._files[path] = source_from_bytes(data, path)
        except (SourceError, ValueError):
            self._files[path] = None

    def __call__(self, finding) -> str:
        return self.line(finding.path, finding.cell, finding.line)

    def line(self, path: str, cell: Optional[int], line: int) -> str:
        """Line `line` (of `cell` in a notebook) of the file shown as `path`, or ""."""
        if path not in self._files:
            try:
                self._files[path] = read_source(Path(path), path)
            except (SourceError, ValueError):
                self._files[path] = None
        source = self._files[path]
        return source.display_line(cell, line) if source is not None else ""
