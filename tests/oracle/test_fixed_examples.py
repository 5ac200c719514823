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


# The bug bank's buggy programs assert their bug's effect when run (tests/bugbank/README.md):
# once gradscan has fixed the marked line, that assertion must fail, and nothing else may.
def _bank_fixes():
    from tests.bugbank.bank import programs

    out = []
    for prog in programs():
        if prog.label != "buggy":
            continue
        source = prog.path.read_text(encoding="utf-8")
        fixed, applied, error = fix_python_text(
            source, lambda text: check_source(text, prog.path.name), frozenset(REGISTRY), unsafe=True)
        if error is None and any(f.line in prog.bug_lines for f in applied):
            out.append(pytest.param(prog, fixed, id=prog.name))
    return out


BANK = _bank_fixes()


def test_the_bank_has_fixed_programs():
    assert len(BANK) >= 5


@pytest.mark.parametrize("prog,fixed", BANK)
def test_fixed_bank_program_no_longer_shows_its_bug(prog, fixed, tmp_path):
    import importlib.util
    import os
    import subprocess
    import sys

    missing = [f for f in prog.frameworks if importlib.util.find_spec(f) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    path = tmp_path / prog.path.name
    path.write_text(fixed, encoding="utf-8")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    assert proc.returncode != 0, "the fixed program still asserts its bug's effect: the fix did not repair it"
    assert last.startswith("AssertionError"), f"the fixed program failed otherwise than by its bug check:\n{proc.stderr[-3000:]}"
