"""Fixit's model: every rule carries its own flagged and clean examples, run here automatically,
and documentation in ruff's shape, so that no rule can exist without them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradscan import check_source
from gradscan.rules import all_rules
from tests.annotations import expected_in_text
from tests.oracle.facts import parse as parse_facts

RULES = [r for r in all_rules() if not r.engine]
FACTS = Path(__file__).resolve().parents[1] / "docs" / "facts.md"
SECTIONS = ("## What it does", "## Why it breaks gradients", "## Example", "## Use instead", "## References")


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_invalid_examples_are_flagged(rule):
    assert rule.invalid, f"{rule.code} has no example it must flag"
    for source in rule.invalid:
        expected = {(line, code) for line, code in expected_in_text(source) if code == rule.code}
        assert expected, f"{rule.code}: an invalid example has no `# error: {rule.code}` annotation"
        actual = {(f.line, f.code) for f in check_source(source, path="example.py", select=[rule.code])}
        assert actual == expected, f"{rule.code} example:\n{source}"


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_valid_examples_are_silent(rule):
    assert rule.valid, f"{rule.code} has no example it must stay silent on"
    for source in rule.valid:
        found = [f for f in check_source(source, path="example.py", select=[rule.code]) if f.code == rule.code]
        assert not found, f"{rule.code} flagged a valid example at {[(f.line, f.message) for f in found]}:\n{source}"


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_documentation_shape(rule):
    assert re.fullmatch(r"GS[1-9]\d\d", rule.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    assert rule.summary and rule.message and rule.hint
    for section in SECTIONS:
        assert section in rule.doc, f"{rule.code} documentation lacks {section!r}"


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_cited_facts_exist(rule):
    # The oracle tier (tests/oracle/test_facts.py) also checks each fact's proof and versions.
    facts = parse_facts(FACTS.read_text(encoding="utf-8"))
    for fact in rule.facts:
        assert fact in facts, f"{rule.code} cites {fact}, which docs/facts.md lacks"
        assert facts[fact].proofs, f"{rule.code} cites {fact}, which docs/facts.md gives no oracle test"


def test_explain_points_at_the_facts_the_project_carries():
    from click.testing import CliRunner

    from gradscan.cli import main

    cited = next(r for r in RULES if r.facts)
    out = CliRunner().invoke(main, ["explain", cited.code]).output
    assert f"Facts: {', '.join(cited.facts)} (docs/facts.md)" in out
    assert FACTS.is_file()
