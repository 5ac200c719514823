"""The bug bank (tests/bugbank/README.md): well-formed programs, a frozen test half, and labels
that hold when each program runs under the real frameworks (oracle tier)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

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


ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _fresh(prog):
    """The program in a fresh interpreter: what decides a label."""
    proc = subprocess.run([sys.executable, str(prog.path)], capture_output=True, text=True, timeout=300,
                          cwd=prog.path.parent, env=ENV)
    return proc.returncode, (proc.stdout[-2000:] + proc.stderr[-3000:])


@pytest.fixture(scope="module")
def zygote():
    """One process that imports the frameworks once and forks a child per program (see
    tests/bugbank/zygote.py): a program's run costs about a second instead of an import."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.bugbank.zygote"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV,
                            cwd=Path(__file__).resolve().parents[1])
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)


@pytest.mark.oracle
@pytest.mark.parametrize("prog", PROGS, ids=IDS)
def test_label_holds_when_run(prog, zygote):
    missing = _missing(prog.frameworks)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    status, output = 1, ""
    if "TF_USE_LEGACY_KERAS" not in prog.path.read_text(encoding="utf-8"):
        zygote.stdin.write(str(prog.path) + "\n")
        zygote.stdin.flush()
        answer = json.loads(zygote.stdout.readline())
        status, output = answer["status"], answer["output"]
    if status != 0:  # a legacy-Keras program, or a forked run that failed: a fresh interpreter decides
        status, output = _fresh(prog)
    assert status == 0, f"label does not hold:\n{output}"
