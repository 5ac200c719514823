"""The rules, one folder per family and one file per rule (`torch_graph/gs201_detach_in_forward.py`).

Importing a family package imports its rule modules, which registers their rules.
"""
from __future__ import annotations

from typing import List, Type

from gradscan.rules import (  # noqa: F401 (importing a family registers its rules)
    engine,
    torch_params,
    torch_graph,
    sampling,
    tensorflow,
    jax,
    training_loop,
)
from gradscan.rules.base import REGISTRY, Report, Rule


def all_rules() -> List[Type[Rule]]:
    return [REGISTRY[code] for code in sorted(REGISTRY)]


def get_rule(code: str) -> Type[Rule]:
    return REGISTRY[code.upper()]


__all__ = ["Rule", "Report", "REGISTRY", "all_rules", "get_rule"]
