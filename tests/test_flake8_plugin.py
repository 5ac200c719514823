"""The flake8 plugin, run through the real flake8: same findings, same lines and columns as gradscan.

flake8 adds 1 to the column a plugin yields (TorchFix got this wrong); the comparison over every
parsable fixture catches an off-by-one anywhere. flake8 reports its own E999 for files that do not
parse and never reads notebooks, so those are left out of the comparison.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("flake8", reason="flake8 is not installed (pip install -e '.[test]')")

from gradscan import __version__  # noqa: E402
from gradscan.rules import all_rules  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
LINE = re.compile(r"^(?P<path>.+?):(?P<row>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.*)$")
DEFAULT_OFF = [r for r in all_rules() if not r.default_enabled and not r.engine]  # GS010 is not reported through flake8

BUGGY = """\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)

    def forward(self, x):
        return x * self.w
"""


def _parsable(path: Path) -> bool:
    try:
        compile(path.read_bytes(), str(path), "exec", 0x400, dont_inherit=True)  # ast.PyCF_ONLY_AST
    except (SyntaxError, ValueError):
        return False
    return True


PY_FIXTURES = sorted(p for p in FIXTURES.rglob("*.py") if p.is_file() and _parsable(p))


def flake8(*args: str, cwd: Path = ROOT, stdin: str = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=600)


def gradscan(*args: str, cwd: Path = ROOT, stdin: str = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradscan", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=600)


def flake8_findings(result: subprocess.CompletedProcess, cwd: Path = ROOT) -> set:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr + result.stdout
    out = set()
    for line in result.stdout.splitlines():
        m = LINE.match(line)
        assert m, f"unexpected flake8 output line: {line!r}"
        if m["code"].startswith("GS"):
            out.add(((cwd / m["path"]).resolve(), int(m["row"]), int(m["col"]), m["code"], m["text"]))
    return out


def gradscan_findings(result: subprocess.CompletedProcess, cwd: Path = ROOT) -> set:
    assert result.returncode in (0, 1), result.stderr
    return {((cwd / f["filename"]).resolve(), f["location"]["row"], f["location"]["column"], f["code"], f["message"])
            for f in json.loads(result.stdout)}


def test_plugin_is_registered_with_flake8():
    result = flake8("--version")
    assert f"gradscan: {__version__}" in result.stdout, result.stdout


def test_known_bug_same_line_and_column(tmp_path):
    (tmp_path / "model.py").write_text(BUGGY)
    ours = gradscan_findings(gradscan("--isolated", "--no-cache", "--output-format", "json", "model.py", cwd=tmp_path), tmp_path)
    theirs = flake8_findings(flake8("--isolated", "--select", "GS", "model.py", cwd=tmp_path), tmp_path)
    assert {(row, col, code) for _, row, col, code, _ in theirs} == {(8, 18, "GS101")}
    assert theirs == ours


@pytest.mark.parametrize("flake8_args, gradscan_args", [
    pytest.param([], [], id="default-selection"),
    pytest.param(["--select", "GS"], ["--select", "GS"], id="select-GS"),
    pytest.param(["--select", "GS", "--disable-noqa"], ["--select", "GS", "--disable-noqa"], id="disable-noqa"),
])
def test_same_findings_as_gradscan_on_every_fixture(flake8_args, gradscan_args, tmp_path):
    """Finding for finding (path, line, column, code, message) on every parsable .py fixture."""
    if not PY_FIXTURES:
        pytest.skip("no parsable .py fixture yet")
    # Both tools read one snapshot of the fixtures (they change while rules are written), laid
    # out as in this repository under a project marker, so that cross-file base classes resolve
    # as they do here. Both run there, without configuration (the plugin reads [tool.gradscan]
    # from the current folder up, as gradscan does).
    project = tmp_path / "project"
    shutil.copytree(FIXTURES, project / "tests" / "fixtures", ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    (project / "pyproject.toml").write_text('[project]\nname = "fixtures"\n')
    files = sorted(str(p.relative_to(project)) for p in (project / "tests" / "fixtures").rglob("*.py") if _parsable(p))
    ours = gradscan_findings(gradscan("--isolated", "--no-cache", "--output-format", "json", *gradscan_args, *files, cwd=project), project)
    # Without --select, flake8 also runs pycodestyle and pyflakes: only GS lines are compared.
    theirs = flake8_findings(flake8("--isolated", *flake8_args, *files, cwd=project), project)
    assert ours, "no finding at all on the fixtures: the comparison would prove nothing"
    missing, extra = sorted(ours - theirs), sorted(theirs - ours)
    assert not missing and not extra, (
        f"reported by gradscan only: {[(p.relative_to(project).as_posix(), *rest) for p, *rest in missing]}\n"
        f"reported by flake8 only: {[(p.relative_to(project).as_posix(), *rest) for p, *rest in extra]}")


def test_noqa_works_through_flake8(tmp_path):
    source = BUGGY.replace("requires_grad=True)", "requires_grad=True)  # noqa: GS101")
    source += textwrap.dedent("""
        class Other(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = torch.randn(3, requires_grad=True)  # noqa: E501
                self.b = torch.randn(3, requires_grad=True)  # noqa
                self.c = torch.randn(3, requires_grad=True)  # NOQA:GS1
        """)
    (tmp_path / "model.py").write_text(source)
    shown = flake8_findings(flake8("--isolated", "--select", "GS", "model.py", cwd=tmp_path), tmp_path)
    assert {(row, code) for _, row, _, code, _ in shown} == {(16, "GS101")}  # only the E501 noqa line
    everything = flake8_findings(flake8("--isolated", "--select", "GS", "--disable-noqa", "model.py", cwd=tmp_path), tmp_path)
    assert {row for _, row, _, _, _ in everything} == {8, 16, 17, 18}


def test_skip_file_comment(tmp_path):
    (tmp_path / "model.py").write_text("# gradscan: skip-file\n" + BUGGY)
    assert flake8_findings(flake8("--isolated", "--select", "GS", "model.py", cwd=tmp_path)) == set()
    shown = flake8_findings(flake8("--isolated", "--select", "GS", "--disable-noqa", "model.py", cwd=tmp_path), tmp_path)
    assert {(row, code) for _, row, _, code, _ in shown} == {(9, "GS101")}


def test_standard_input_as_editors_use_it(tmp_path):
    """VS Code's flake8 extension, ALE, flycheck and nvim-lint pipe the buffer to `flake8 -`."""
    result = flake8("--isolated", "--select", "GS", "--stdin-display-name", "pkg/model.py", "-", cwd=tmp_path, stdin=BUGGY)
    assert result.stdout.startswith("pkg/model.py:8:18: GS101 "), result.stdout + result.stderr
    assert result.returncode == 1


def test_default_off_rules_are_in_flake8s_default_ignore():
    from flake8.main.application import Application

    app = Application()
    app.initialize(["--isolated"])
    ignored = {code for code in app.options.extended_default_ignore if code.startswith("GS")}
    assert ignored == {r.code for r in all_rules() if not r.default_enabled}


@pytest.mark.parametrize("rule", DEFAULT_OFF, ids=[r.code for r in DEFAULT_OFF])
def test_default_off_rule_needs_selecting_in_flake8_too(rule, tmp_path):
    from tests.annotations import expected_in_text

    example = rule.invalid[0]
    (tmp_path / "example.py").write_text(example)
    expected = {(line, code) for line, code in expected_in_text(example) if code == rule.code}
    by_default = flake8_findings(flake8("--isolated", "example.py", cwd=tmp_path), tmp_path)
    assert rule.code not in {code for *_, code, _ in by_default}
    selected = flake8_findings(flake8("--isolated", "--extend-select", rule.code, "example.py", cwd=tmp_path), tmp_path)
    assert {(row, code) for _, row, _, code, _ in selected if code == rule.code} == expected


def test_bad_gradscan_configuration_is_a_clear_flake8_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.gradscan]\nselect = ['GS101']\nfrobnicate = 1\n")
    (tmp_path / "model.py").write_text(BUGGY)
    result = flake8("--select", "GS", "model.py", cwd=tmp_path)
    assert result.returncode != 0
    assert "gradscan:" in result.stdout and "frobnicate" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_rule_options_come_from_gradscan_configuration_and_selection_from_flake8(tmp_path):
    """`torch-module-bases` teaches gradscan a base class; `select` in [tool.gradscan] is not flake8's."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.gradscan]\nselect = ['GS107']\ntorch-module-bases = ['mylib.Block']\n")
    (tmp_path / "model.py").write_text(textwrap.dedent("""\
        import torch
        from mylib import Block


        class Scale(Block):
            def __init__(self):
                super().__init__()
                self.w = torch.randn(3, requires_grad=True)
        """))
    shown = flake8_findings(flake8("--select", "GS", "model.py", cwd=tmp_path), tmp_path)
    assert {(row, col, code) for _, row, col, code, _ in shown} == {(8, 18, "GS101")}
    assert shown == gradscan_findings(gradscan("--select", "GS", "--output-format", "json", "model.py", cwd=tmp_path), tmp_path)
