"""Oracle cases for the training-loop rules (GS6xx); the conventions are those of `cases.py`,
whose `_case` decorator registers each case into the shared `CASES`."""

from __future__ import annotations

from .cases import CASES, OracleCase, _case  # noqa: F401
