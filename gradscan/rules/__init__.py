"""Every rule module in this package is imported here, which registers its rules."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Dict, List, Type

from gradscan.rules.base import REGISTRY, Report, Rule

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")


def all_rules() -> List[Type[Rule]]:
    return [REGISTRY[code] for code in sorted(REGISTRY)]


def get_rule(code: str) -> Type[Rule]:
    return REGISTRY[code.upper()]


__all__ = ["Rule", "Report", "REGISTRY", "all_rules", "get_rule"]
