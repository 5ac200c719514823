"""Oracle tier for autofix: each BAD example whose rule offers a fix is fixed by gradscan (safe and
unsafe fixes), and the fixed program, run under the real framework, passes the GOOD example's
check: the gradient now flows where the rule said it did not."""
from __future__ import annotations

import pytest

from gradscan.engine import check_source
from gradscan.fixes import fix_python_text
from gradscan.rules import REGISTRY

from .cases import CASES
from .test_oracle import _require, _run

pytestmark = pytest.mark.oracle

FIXED = [pytest.param(key, id=key) for key, case in CASES.items() if REGISTRY[case.code].fix_safety is not None]


def fixed_source(code: str, source: str) -> str:
    rule = REGISTRY[code]
    fixed, applied, error = fix_python_text(
        source, lambda text: check_source(text, "example.py", select=[code]), frozenset([code]), unsafe=True)
    assert error is None, error
    assert applied and all(f.code == code for f in applied), f"{code}: gradscan offers no fix for its own oracle example"
    assert not check_source(fixed, "example.py", select=[code]), f"{code}: the fixed example is still flagged:\n{fixed}"
    return fixed


def test_every_rule_with_a_fix_has_an_oracle_case():
    codes = {c.code for c in CASES.values()}
    assert {"GS101", "GS102", "GS103", "GS107", "GS301", "GS302", "GS401"} <= codes
    assert len(FIXED) >= 7


@pytest.mark.parametrize("key", FIXED)
def test_fixed_example_lets_the_gradient_flow(key):
    case = CASES[key]
    try:
        fixed = fixed_source(case.code, case.bad)
    except AssertionError:
        if key != case.code:  # a variant case (GS301-pyro...) the fix need not reach
            pytest.skip(f"{key}: no fix for this variant")
        raise
    _require(case.framework)
    from dataclasses import replace

    # The fixed BAD program must now behave as the GOOD one: its check asserts the gradient.
    _run(replace(case, good=fixed), "good")
