"""What a check produces: one Finding per problem, with 1-based lines and columns as flake8 prints them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Fix:
    """A suggested replacement for the text between two positions (1-based, end exclusive)."""

    message: str
    replacement: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Finding:
    path: str
    line: int  # 1-based; inside the cell for notebooks
    col: int  # 1-based
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    cell: Optional[int] = None
    fix: Optional[Fix] = field(default=None, compare=False)
    detail: Optional[str] = field(default=None, compare=False)  # e.g. a traceback for GS000

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.col, self.code)

    def location(self) -> str:
        cell = f"cell {self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{cell}{self.line}:{self.col}"
