"""The bug bank (tests/bugbank/README.md): well-formed programs, a frozen test half, and labels
that hold when each program runs under the real frameworks (oracle tier)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.bugbank.bank import FAMILIES, FRAMEWORKS, PROGRAMS, file_hash, programs, read_split

PROGS = programs()
IDS = [p.name for p in PROGS]


@pytest.mark.parametrize("prog", PROGS, ids=IDS)
def test_header(prog):
    assert prog.summary, "first docstring line: what the program does"
    assert prog.sources and all(s.startswith("https://") for s in prog.sources), "Source: the public report's URL"
    assert prog.label in ("buggy", "clean")
    assert prog.family in FAMILIES
    assert prog.frameworks and set(prog.frameworks) <= FRAMEWORKS
    assert prog.path.name.endswith("_bug.py" if prog.label == "buggy" else "_ok.py")
    if prog.label == "buggy":
        assert prog.bug_lines, "a buggy program marks its bug with `# BUG`"
    else:
        assert not prog.bug_lines, "a clean program has no `# BUG` mark"


def test_split_covers_the_bank_and_the_test_half_is_frozen():
    split = read_split()
    assert sorted(split) == sorted(IDS), "run `python -m tests.bugbank.split` for new programs"
    for name, (half, digest) in split.items():
        assert half in ("test", "dev")
        if half == "test":
            assert digest == file_hash(PROGRAMS / name), f"{name} is in the frozen test half and changed"


def test_twins_share_a_half():
    split = read_split()
    pairs = {}
    for p in PROGS:
        pairs.setdefault(p.pair, set()).add(split[p.name][0])
    assert all(len(h) == 1 for h in pairs.values())


def _missing(frameworks):
    return [f for f in frameworks if importlib.util.find_spec(f) is None]


@pytest.mark.oracle
@pytest.mark.parametrize("prog", PROGS, ids=IDS)
def test_label_holds_when_run(prog):
    missing = _missing(prog.frameworks)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    proc = subprocess.run([sys.executable, str(prog.path)], capture_output=True, text=True, timeout=300,
                          cwd=prog.path.parent, env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                                     "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, f"label does not hold:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
