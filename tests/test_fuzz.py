"""Property-based fuzzing: gradscan runs unattended on code it has never seen, so no input may
crash it, put a finding outside the file, or make two runs disagree.

Sources are the repository's own: every rule's examples and the annotated fixtures, mutated
(lines deleted, duplicated, swapped, truncated; tokens, NUL bytes, unicode, CRLF, a BOM and deep
nesting inserted), their notebook forms, and, when hypothesmith is installed, programs generated
from Python's grammar. The default run is short enough for CI and reproducible (derandomized);
GRADSCAN_FUZZ_EXAMPLES=2000 runs longer (that many examples per property).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradscan import check_source
from gradscan.files.source import split_lines
from gradscan.rules import all_rules

try:
    import hypothesmith
except ImportError:  # the mutation tests still run without it
    hypothesmith = None

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

SEEDS: List[str] = sorted(
    {src for rule in all_rules() for src in (*rule.invalid, *rule.valid)}
    | {p.read_text(encoding="utf-8") for p in FIXTURES.rglob("*.py")})
# Pieces that stress the reader and the analysis: brackets and strings left open, IPython
# escapes, control characters, line breaks Python does not count, non-ASCII names.
TOKENS = ["(", ")", "[", "]", "{", "}", ":", "\\", "\\\n", '"""', "'''", "'", '"', "#", "%", "!", "?", "@",
          "lambda", "def f(", "class C(nn.Module):", "async ", "await ", "yield", "return", "global x",
          "nonlocal x", ".detach()", ".sample()", "torch.no_grad()", "with tf.GradientTape() as t:",
          "jax.grad(", "\x00", "\t", "\x0c", "\r", "\u2028", "\x85", "\ufeff", "é", "变量", "\U0001f600",
          "\u200b", "x" * 300, "    ", "\n", "\r\n"]
EXAMPLES = int(os.environ.get("GRADSCAN_FUZZ_EXAMPLES", "0"))


def fuzz_settings(default: int):
    return settings(max_examples=EXAMPLES or default, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw) -> str:
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "token", "nest", "indent"]))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "delete" and len(lines) > 1:
            del lines[at]
        elif op == "duplicate":
            lines.insert(at, lines[at])
        elif op == "swap":
            other = draw(st.integers(0, max(len(lines) - 1, 0)))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == "truncate":
            lines = lines[: at + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
        elif op == "token":
            line = lines[at]
            col = draw(st.integers(0, len(line)))
            lines[at] = line[:col] + draw(st.sampled_from(TOKENS)) + line[col:]
        elif op == "nest":
            depth = draw(st.sampled_from([10, 100, 1000]))
            kind = draw(st.sampled_from(["parens", "blocks", "calls"]))
            if kind == "parens":
                lines.insert(at, "y = " + "(" * depth + "x" + ")" * depth)
            elif kind == "calls":
                lines.insert(at, "y = " + "f(" * depth + "x.detach()" + ")" * depth)
            else:
                depth = min(depth, 120)
                lines[at:at] = [" " * i + "if x:" for i in range(depth)] + [" " * depth + "y = x.detach()"]
        else:
            lines[at] = draw(st.sampled_from(["\t", " ", "  "])) + lines[at]
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text


def as_notebook(cells: List[str]) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": c.splitlines(keepends=True)} for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def notebook_cells(text: str):
    """Each cell's source as the user sees it, or None when `text` is not a notebook."""
    try:
        cells = json.loads(text)["cells"]
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def editor_lines(text: str) -> List[str]:
    """The lines an editor shows: after a final line break, one more (empty) line."""
    lines = split_lines(text)
    return lines + [""] if not lines or text.endswith(("\n", "\r")) else lines


def assert_sound(text: str, path: str) -> None:
    """No exception escapes, every position is inside the file, and a second run agrees."""
    first = check_source(text, path=path, select=["ALL"])
    assert check_source(text, path=path, select=["ALL"]) == first
    cells = notebook_cells(text) if path.endswith(".ipynb") else None
    for f in first:
        assert f.code.startswith("GS") and f.message, f
        if f.cell is None:  # a Python file, or a notebook that is not one (GS001 at a JSON position)
            lines = editor_lines(text)
        else:
            assert cells is not None and 1 <= f.cell <= len(cells), f
            lines = editor_lines(cells[f.cell - 1])
        assert 1 <= f.line <= f.end_line <= len(lines), (f, len(lines))
        assert (f.end_line, f.end_col) >= (f.line, f.col), f
        for line, col in ((f.line, f.col), (f.end_line, f.end_col)):
            assert 1 <= col <= len(lines[line - 1]) + 1, (f, lines[line - 1])


@fuzz_settings(300)
@given(mutated())
def test_mutated_sources_never_crash_and_positions_hold(text):
    assert_sound(text, "mutated.py")


@fuzz_settings(120)
@given(st.lists(mutated(), min_size=1, max_size=3), st.sampled_from(["", "%time ", "!pip install a \\\n  b\n",
                                                                      "  ", "%%capture\n", ">>> ", "x = !ls\n"]))
def test_mutated_notebooks_never_crash_and_positions_hold(cells, prefix):
    assert_sound(as_notebook([prefix + c for c in cells]), "mutated.ipynb")


@fuzz_settings(40)
@given(st.binary(max_size=400) | st.text(max_size=400))
def test_arbitrary_bytes_and_text(data):
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    assert_sound(text, "noise.py")
    assert_sound(text, "noise.ipynb")


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed")
@fuzz_settings(25)
@given(st.deferred(lambda: hypothesmith.from_grammar()))
def test_programs_from_pythons_grammar(text):
    assert_sound(text, "grammar.py")


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed")
@fuzz_settings(5)
@given(st.deferred(lambda: hypothesmith.from_node()))
def test_programs_from_libcst_nodes(text):
    assert_sound(text, "nodes.py")


def gradscan(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradscan", "--output-format", "json", *args, "."], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@fuzz_settings(3)
@given(st.lists(mutated(), min_size=4, max_size=7), st.lists(mutated(), min_size=1, max_size=2))
def test_command_line_agrees_across_jobs_and_cache(files, cells):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[tool.gradscan]\n", encoding="utf-8")
        for i, text in enumerate(files):
            path = root / ("pkg" if i % 2 else "scripts") / f"m{i}.py"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
        (root / "nb.ipynb").write_text(as_notebook(cells), encoding="utf-8")
        runs = {
            "jobs 1, no cache": gradscan(root, "--jobs", "1", "--no-cache"),
            "jobs 2, no cache": gradscan(root, "--jobs", "2", "--no-cache"),
            "jobs 2, cold cache": gradscan(root, "--jobs", "2"),
            "jobs 1, warm cache": gradscan(root, "--jobs", "1"),
        }
        base = runs["jobs 1, no cache"]
        assert base.returncode in (0, 1), base.stderr
        assert "Traceback" not in base.stderr
        assert json.loads(base.stdout) is not None
        for name, run in runs.items():
            assert (run.returncode, run.stdout) == (base.returncode, base.stdout), name
