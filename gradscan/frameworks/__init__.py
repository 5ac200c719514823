"""Framework API knowledge as data (TorchFix's deprecated_symbols.yaml, as Python tables).

One module per framework; each table answers one question about the framework's API and
every row names the fact (`docs/facts.md`, proven by the oracle tier) it rests on. The
semantic model and the rules read these tables; adding an API is adding a row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Iterable


@dataclass(frozen=True)
class Api:
    """One API: a method name (`numpy`) or a qualified function (`torch.from_numpy`), and
    the id of the fact that says what it does to gradients."""

    name: str
    fact: str


def names(*tables: Iterable[Api]) -> FrozenSet[str]:
    return frozenset(api.name for table in tables for api in table)
