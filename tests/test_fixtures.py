"""Every fixture produces exactly the findings annotated beside its lines, no more, no fewer.

The fixtures are checked as one project (the real runner, with the project index), so that
cross-file bases in tests/fixtures/<package>/ resolve as they would for a user.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gradscan.config import Settings
from gradscan.runner import run
from tests.annotations import expected_in_file

FIXTURES = Path(__file__).parent / "fixtures"
FILES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".py", ".ipynb") and p.is_file())


@pytest.fixture(scope="module")
def findings_by_file():
    settings = Settings(select=["ALL"], root=FIXTURES, respect_gitignore=False)
    result = run([str(FIXTURES)], settings, jobs=1, use_cache=False)
    by_file = {}
    for f in result.findings:
        by_file.setdefault(Path(f.path).resolve(), set()).add((f.cell, f.line, f.code) if f.cell else (f.line, f.code))
    return by_file


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(FIXTURES).as_posix() for p in FILES])
def test_fixture(path, findings_by_file):
    expected = expected_in_file(path)
    actual = findings_by_file.get(path.resolve(), set())
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    assert not missing and not extra, f"missing findings: {missing}; unexpected findings: {extra}"
