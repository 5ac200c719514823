"""The pre-commit hook, run by the real pre-commit against this repository's committed HEAD.

pre-commit installs the hook's environment from the repository (and its dependencies from the
package index) as it would for a user, so these tests take a few seconds each. The hook
definition (.pre-commit-hooks.yaml) is what users get; the `.pre-commit-config.yaml` snippet is
read from docs/integrations.md, so the documented snippet is the one tested.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

if importlib.util.find_spec("pre_commit") is None:
    pytest.skip("pre-commit is not installed (pip install -e '.[test]')", allow_module_level=True)

import yaml  # noqa: E402  (a dependency of pre-commit)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "integrations.md"
TIMEOUT = 900
URL = "https://github.com/gradscan/gradscan"

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
FIXED = BUGGY.replace("torch.randn(3, requires_grad=True)", "nn.Parameter(torch.randn(3))")


def _git(*args: str, cwd: Path, env=None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def head() -> str:
    """The commit pre-commit installs the hook from: this repository's HEAD."""
    if not (ROOT / ".git").exists():
        pytest.fail(f"{ROOT} is not a git checkout: pre-commit installs hooks from a repository's commits")
    sha = _git("rev-parse", "HEAD", cwd=ROOT).stdout.strip()
    shown = _git("cat-file", "-e", f"{sha}:.pre-commit-hooks.yaml", cwd=ROOT, check=False)
    assert shown.returncode == 0, ".pre-commit-hooks.yaml is not committed: pre-commit reads it from the commit"
    return sha


@pytest.fixture
def env(tmp_path_factory) -> dict:
    env = dict(os.environ)
    env.update({
        "GIT_AUTHOR_NAME": "gradscan tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "gradscan tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
        "PRE_COMMIT_COLOR": "never", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # pre-commit's own store (environments), away from the user's ~/.cache/pre-commit
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
    })
    env.pop("GIT_DIR", None)
    env.pop("GIT_INDEX_FILE", None)
    return env


def make_repo(path: Path, env: dict) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    _git("init", "-q", cwd=path, env=env)
    _git("config", "commit.gpgsign", "false", cwd=path, env=env)
    (path / "README.md").write_text("# a project\n")
    _git("add", "README.md", cwd=path, env=env)
    _git("commit", "-q", "-m", "initial", cwd=path, env=env)
    return path


def precommit(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    [hook] = hooks
    assert hook["id"] == "gradscan" and hook["language"] == "python"
    assert hook["entry"] == "gradscan --force-exclude"
    assert set(hook["types_or"]) == {"python", "pyi", "jupyter"}
    assert hook["require_serial"] is True
    # types_or needs pre-commit 2.9.0; 2.9.2 is the first release without its early bugs.
    assert tuple(int(x) for x in hook["minimum_pre_commit_version"].split(".")) >= (2, 9, 0)
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, output(result)


def test_try_repo_fails_on_a_finding_and_passes_once_fixed(tmp_path, env, head):
    repo = make_repo(tmp_path / "project", env)
    (repo / "model.py").write_text(BUGGY)
    _git("add", "model.py", cwd=repo, env=env)

    failed = precommit("try-repo", str(ROOT), "gradscan", "--ref", head, cwd=repo, env=env)
    assert failed.returncode == 1, output(failed)
    assert re.search(r"^gradscan\.+Failed$", failed.stdout, re.M), output(failed)
    assert re.search(r"^model\.py:8:18: GS101 ", failed.stdout, re.M), output(failed)

    (repo / "model.py").write_text(FIXED)
    _git("add", "model.py", cwd=repo, env=env)
    passed = precommit("try-repo", str(ROOT), "gradscan", "--ref", head, cwd=repo, env=env)
    assert passed.returncode == 0, output(passed)
    assert re.search(r"^gradscan\.+Passed$", passed.stdout, re.M), output(passed)


def documented_snippets() -> list:
    """The `.pre-commit-config.yaml` snippets of docs/integrations.md."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return [yaml.safe_load(b) for b in blocks if b.lstrip().startswith("repos:")]


def documented_snippet() -> dict:
    """The snippet that uses this repository's hook (`repo: <URL>`)."""
    [snippet] = [s for s in documented_snippets() if s["repos"][0]["repo"] != "local"]
    return snippet


def documented_config(repo_url: str, rev: Optional[str] = None) -> str:
    """The documented snippet, pointed at this checkout (at `rev`, or the documented rev)."""
    config = documented_snippet()
    [entry] = config["repos"]
    assert entry["repo"] == URL and [h["id"] for h in entry["hooks"]] == ["gradscan"]
    entry["repo"] = repo_url
    if rev is not None:
        entry["rev"] = rev
    return yaml.safe_dump(config, sort_keys=False)


def test_readme_snippet_is_the_documented_one():
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("no README.md")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme.read_text(encoding="utf-8"), re.S) if b.lstrip().startswith("repos:")]
    for block in blocks:
        assert yaml.safe_load(block) == documented_snippet()


def test_documented_snippet_as_a_git_hook(tmp_path, env, head):
    """`pre-commit install` with the README's snippet: commits are stopped or let through."""
    repo = make_repo(tmp_path / "project", env)
    (repo / ".pre-commit-config.yaml").write_text(documented_config(str(ROOT), head))
    _git("add", ".pre-commit-config.yaml", cwd=repo, env=env)
    installed = precommit("install", cwd=repo, env=env)
    assert installed.returncode == 0, output(installed)
    installed = precommit("install-hooks", cwd=repo, env=env)  # build the environment once, up front
    assert installed.returncode == 0, output(installed)

    def commit(message: str) -> subprocess.CompletedProcess:
        return _git("commit", "-m", message, cwd=repo, env=env, check=False)

    # A commit touching no Python file: the hook is skipped and the commit goes through.
    (repo / "README.md").write_text("# a project\n\nNow with docs.\n")
    _git("add", "README.md", cwd=repo, env=env)
    done = commit("docs only")
    assert done.returncode == 0, output(done)
    assert re.search(r"^gradscan\.+\(no files to check\)Skipped$", output(done), re.M), output(done)

    # A buggy model: the commit is stopped with the finding.
    (repo / "model.py").write_text(BUGGY)
    _git("add", "model.py", cwd=repo, env=env)
    stopped = commit("add model")
    assert stopped.returncode != 0
    assert re.search(r"^model\.py:8:18: GS101 ", output(stopped), re.M), output(stopped)
    assert _git("log", "--format=%s", cwd=repo, env=env).stdout.split("\n")[0] == "docs only"

    # Fixed: the commit goes through.
    (repo / "model.py").write_text(FIXED)
    _git("add", "model.py", cwd=repo, env=env)
    done = commit("add model")
    assert done.returncode == 0, output(done)
    assert re.search(r"^gradscan\.+Passed$", output(done), re.M), output(done)

    # A notebook is checked too, and the finding names its cell.
    notebook = {"cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["import torch\n", "from torch import nn"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": BUGGY.split("\n", 2)[2].splitlines(keepends=True)},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (repo / "train.ipynb").write_text(json.dumps(notebook, indent=1))
    _git("add", "train.ipynb", cwd=repo, env=env)
    stopped = commit("add notebook")
    assert stopped.returncode != 0
    assert re.search(r"^train\.ipynb:cell 2:6:18: GS101 ", output(stopped), re.M), output(stopped)
    _git("rm", "-q", "--cached", "train.ipynb", cwd=repo, env=env)

    # --force-exclude: a file the project excludes is not checked even though pre-commit names it.
    (repo / "pyproject.toml").write_text('[tool.gradscan]\nextend-exclude = ["legacy"]\n')
    (repo / "legacy").mkdir()
    (repo / "legacy" / "old_model.py").write_text(BUGGY)
    _git("add", "pyproject.toml", "legacy/old_model.py", cwd=repo, env=env)
    done = commit("vendor legacy code")
    assert done.returncode == 0, output(done)


def run_on_buggy_then_fixed(repo: Path, env: dict) -> None:
    """`pre-commit run` on a buggy model fails with the finding, and passes once it is fixed."""
    (repo / "model.py").write_text(BUGGY)
    _git("add", "model.py", cwd=repo, env=env)
    failed = precommit("run", "--files", "model.py", cwd=repo, env=env)
    assert failed.returncode == 1, output(failed)
    assert re.search(r"^model\.py:8:18: GS101 ", failed.stdout, re.M), output(failed)
    (repo / "model.py").write_text(FIXED)
    passed = precommit("run", "--files", "model.py", cwd=repo, env=env)
    assert passed.returncode == 0, output(passed)


def test_documented_rev_and_autoupdate(tmp_path, env, head):
    """The snippet as written (its `rev` is a commit of this repository), then
    `pre-commit autoupdate --bleeding-edge`, which moves `rev` to the newest commit."""
    config = documented_snippet()
    written = config["repos"][0]["rev"]
    assert re.fullmatch(r"[0-9a-f]{40}", written), "no release tag exists yet: rev must be a commit"
    present = _git("cat-file", "-e", f"{written}^{{commit}}", cwd=ROOT, check=False)
    assert present.returncode == 0, f"the documented rev {written} is not a commit of this repository"
    repo = make_repo(tmp_path / "project", env)
    (repo / ".pre-commit-config.yaml").write_text(documented_config(str(ROOT)))
    run_on_buggy_then_fixed(repo, env)

    updated = precommit("autoupdate", "--bleeding-edge", cwd=repo, env=env)
    assert updated.returncode == 0, output(updated)
    rev = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())["repos"][0]["rev"]
    assert rev == head, output(updated)


@pytest.fixture(scope="module")
def clone(tmp_path_factory, head) -> Path:
    """A clone of the committed HEAD, for pip to install from by path (pip builds in the tree)."""
    path = tmp_path_factory.mktemp("clone") / "gradscan"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True, capture_output=True, timeout=TIMEOUT)
    subprocess.run(["git", "checkout", "-q", head], cwd=path, check=True, capture_output=True)
    return path


def test_documented_local_hook_with_additional_dependencies(tmp_path, env, head, clone):
    """`repo: local`, `language: python`: pre-commit pip-installs `additional_dependencies`, as
    documented (the URL pointed at the clone; pip before 23.3 needs a host in a file URL) and by
    local path."""
    [local] = [s for s in documented_snippets() if s["repos"][0]["repo"] == "local"]
    [hook] = local["repos"][0]["hooks"]
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    assert {k: hook[k] for k in ("id", "entry", "language", "types_or", "require_serial")} == \
        {k: manifest[k] for k in ("id", "entry", "language", "types_or", "require_serial")}
    [dependency] = hook["additional_dependencies"]
    assert dependency == f"gradscan @ git+{URL}@main"
    for n, installed in enumerate((f"gradscan @ git+file://localhost{clone.as_posix()}@{head}", str(clone))):
        hook["additional_dependencies"] = [installed]
        repo = make_repo(tmp_path / f"project{n}", env)
        (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(local, sort_keys=False))
        run_on_buggy_then_fixed(repo, env)
