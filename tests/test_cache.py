"""The results cache (gradscan.cache) through the runner: reuse, invalidation, location, --no-cache."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradscan import cache, runner
from gradscan.config import Settings

BASE_MODULE = """\
import torch.nn as nn


class BaseBlock(nn.Module):
    pass
"""

BASE_PLAIN = """\
class BaseBlock:
    pass
"""

BLOCK = """\
import torch.nn as nn

from pkg.base import BaseBlock


class Block(BaseBlock):
    def forward(self, x):
        layer = nn.Linear(4, 4)
        return layer(x)
"""

OTHER = """\
import torch.nn as nn


class Other(nn.Module):
    def forward(self, x):
        layer = nn.Conv2d(3, 3, 1)
        return layer(x)
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "base.py").write_text(BASE_MODULE)
    (root / "pkg" / "block.py").write_text(BLOCK)
    (root / "pkg" / "other.py").write_text(OTHER)
    monkeypatch.chdir(root)
    return root


def _run(root, **kwargs):
    return runner.run(["pkg"], Settings(root=root), jobs=1, **kwargs)


def _summary(result):
    return [(f.path, f.line, f.col, f.code, f.message, f.end_line, f.end_col) for f in result.findings]


def test_warm_run_gives_identical_findings_from_the_cache(project):
    cold = _run(project)
    assert cold.cached == 0 and cold.checked == 4
    assert {(f.path, f.code) for f in cold.findings} == {("pkg/block.py", "GS106"), ("pkg/other.py", "GS106")}
    warm = _run(project)
    assert warm.cached == 4 and warm.checked == 0
    assert _summary(warm) == _summary(cold)
    assert warm.findings == cold.findings


def test_editing_the_file_rechecks_it(project):
    _run(project)
    (project / "pkg" / "block.py").write_text(BLOCK.replace("nn.Linear(4, 4)", "x"))
    result = _run(project)
    assert result.checked == 1 and result.cached == 3
    assert [(f.path, f.code) for f in result.findings] == [("pkg/other.py", "GS106")]


def test_touching_without_change_keeps_the_entry(project):
    _run(project)
    block = project / "pkg" / "block.py"
    os.utime(block, (1, 1))
    result = _run(project)
    assert result.cached == 4


def test_editing_a_base_class_in_another_file_rechecks_its_subclasses(project):
    _run(project)
    (project / "pkg" / "base.py").write_text(BASE_PLAIN)  # Block is no longer a torch module
    result = _run(project)
    # base.py itself and block.py (whose verdict used pkg.base) are re-checked; other.py is not.
    assert result.checked == 2 and result.cached == 2
    assert [(f.path, f.code) for f in result.findings] == [("pkg/other.py", "GS106")]
    (project / "pkg" / "base.py").write_text(BASE_MODULE)
    result = _run(project)
    assert {(f.path, f.code) for f in result.findings} == {("pkg/block.py", "GS106"), ("pkg/other.py", "GS106")}


def test_a_new_module_rechecks_the_files_that_looked_for_it(project):
    (project / "pkg" / "base.py").unlink()
    (project / "pkg" / "block.py").write_text(BLOCK.replace("pkg.base", "pkg.layers"))
    first = _run(project)
    assert [f.path for f in first.findings] == ["pkg/other.py"]  # BaseBlock unknown: silent
    (project / "pkg" / "layers.py").write_text(BASE_MODULE)
    second = _run(project)
    assert {f.path for f in second.findings} == {"pkg/block.py", "pkg/other.py"}


def test_settings_are_part_of_the_key(project):
    _run(project)
    narrow = runner.run(["pkg"], Settings(root=project, select=["GS101"]), jobs=1)
    assert narrow.cached == 0 and narrow.findings == []
    assert _run(project).cached == 4  # the default selection's entries are still there


def test_a_different_checker_does_not_reuse_entries(project, monkeypatch):
    _run(project)
    monkeypatch.setattr(cache, "_TOOL", "another-version")
    assert _run(project).cached == 0


def test_no_cache_writes_nothing(project):
    result = _run(project, use_cache=False)
    assert len(result.findings) == 2
    assert not (project / ".gradscan_cache").exists()
    assert not (project.parent / "user-cache").exists()


def test_no_cache_flag_on_the_command_line_writes_nothing(project):
    proc = subprocess.run([sys.executable, "-m", "gradscan", "--no-cache", "-q", "pkg"], cwd=project,
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "GS106" in proc.stdout
    assert not (project / ".gradscan_cache").exists()
    assert not (project.parent / "user-cache").exists()


def test_cache_folder_layout(project):
    _run(project)
    folder = project / ".gradscan_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (folder / "CACHEDIR.TAG").exists()
    entries = list((folder / "results").rglob("*.json"))
    assert len(entries) == 4
    for entry in entries:
        data = json.loads(entry.read_text())
        assert set(data) == {"v", "tool", "hash", "deps", "findings"}
    assert not list(folder.rglob(".tmp-*"))  # atomic writes leave no temporary file behind
    block = [json.loads(e.read_text()) for e in entries if json.loads(e.read_text())["findings"]]
    deps = set().union(*(b["deps"] for b in block))
    assert 'call:bases:["pkg.base.BaseBlock"]' in deps  # the index answer the subclass's verdict used


def test_unwritable_project_falls_back_to_the_user_cache(project, monkeypatch):
    real = cache._prepare

    def prepare(folder):
        return False if folder == project / cache.CACHE_FOLDER else real(folder)

    monkeypatch.setattr(cache, "_prepare", prepare)
    _run(project)
    assert not (project / ".gradscan_cache").exists()
    user = project.parent / "user-cache" / "gradscan"
    assert len(list(user.rglob("results/*/*.json"))) == 4
    assert _run(project).cached == 4


def test_cache_dir_environment_variable(project, monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "elsewhere"))
    _run(project)
    assert not (project / ".gradscan_cache").exists()
    assert len(list((tmp_path / "elsewhere").rglob("results/*/*.json"))) == 4
    assert _run(project).cached == 4


def test_workers_write_entries_with_their_dependencies(project, monkeypatch):
    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    cold = runner.run(["pkg"], Settings(root=project), jobs=2)
    assert cold.workers == 2
    warm = runner.run(["pkg"], Settings(root=project), jobs=2)
    assert warm.cached == 4 and warm.findings == cold.findings
    (project / "pkg" / "base.py").write_text(BASE_PLAIN)
    edited = runner.run(["pkg"], Settings(root=project), jobs=2)
    assert edited.checked == 2
    assert [f.path for f in edited.findings] == ["pkg/other.py"]


def test_internal_errors_are_not_cached(project, monkeypatch):
    from gradscan.findings import Finding

    def broken(data, display, *args, **kwargs):
        return [Finding(display, 1, 1, "GS000", "internal error")]

    monkeypatch.setattr("gradscan.engine.check_bytes", broken)
    _run(project)
    monkeypatch.undo()
    monkeypatch.chdir(project)
    result = _run(project)
    assert result.cached == 0 and all(f.code != "GS000" for f in result.findings)


def test_concurrent_runs_leave_valid_entries(project):
    procs = [subprocess.Popen([sys.executable, "-m", "gradscan", "-q", "-j", "1", "pkg"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate()[0] for p in procs]
    assert len(set(outputs)) == 1 and "GS106" in outputs[0]
    for entry in (project / ".gradscan_cache" / "results").rglob("*"):
        if entry.is_file():
            json.loads(entry.read_text())
    assert not list((project / ".gradscan_cache").rglob(".tmp-*"))
    proc = subprocess.run([sys.executable, "-m", "gradscan", "-q", "-j", "1", "pkg"], cwd=project, capture_output=True, text=True)
    assert proc.stdout == outputs[0]


PARAM_BASE = """\
import torch
import torch.nn as nn


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x
"""

PARAM_SUB = """\
from pkg.base import Base


class Sub(Base):
    def forward(self, x):
        return x * self.scale
"""


def test_whole_project_questions_depend_on_their_answer(project):
    """GS105 asks which attributes the project's subclasses read (a question about every
    class): the verdict is re-checked when that answer changes, not on any unrelated edit."""
    (project / "pkg" / "base.py").write_text(PARAM_BASE)
    (project / "pkg" / "sub.py").write_text(PARAM_SUB)
    first = _run(project)
    assert not [f for f in first.findings if f.path == "pkg/base.py"]  # Sub reads `scale`
    entries = [json.loads(e.read_text()) for e in (project / ".gradscan_cache" / "results").rglob("*.json")]
    assert any(k.startswith("call:subclasses_reads:") for e in entries for k in e["deps"])
    assert not any(k.endswith(":*") for e in entries for k in e["deps"])

    (project / "pkg" / "other.py").write_text(OTHER + "\n# edited\n")  # unrelated to Base
    second = _run(project)
    assert second.checked == 1 and second.findings == first.findings

    (project / "pkg" / "sub.py").write_text(PARAM_SUB.replace("x * self.scale", "x * 2"))
    third = _run(project)
    assert ("pkg/base.py", "GS105") in {(f.path, f.code) for f in third.findings}
    assert third.checked == 2  # sub.py (edited) and base.py (the answer about Base changed)


def test_spawned_workers_record_dependencies_too(project, monkeypatch):
    """Where workers are spawned (macOS, Windows), the recording index is pickled to them."""
    import multiprocessing

    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(runner, "_pool_context", lambda: multiprocessing.get_context("spawn"))
    cold = runner.run(["pkg"], Settings(root=project), jobs=2)
    assert cold.workers == 2
    (project / "pkg" / "base.py").write_text(BASE_PLAIN)
    edited = runner.run(["pkg"], Settings(root=project), jobs=1)
    assert edited.checked == 2 and [f.path for f in edited.findings] == ["pkg/other.py"]
