"""The documented ways to install gradscan, run for real with pip into a fresh virtual environment.

Every `pip install` the README and docs/integrations.md show (and the GitHub Actions workflow's
install step) runs as written, with one substitution: the repository's public URL becomes a local
clone of this checkout, and `@main` its HEAD commit (a worktree's `main` may lag behind the code
under test). The README's first set-up command and the fast tier's command run as written in the
clone. One virtual environment serves the whole module: creating it and installing gradscan from a
local source needs only libcst, click and pathspec from the package index.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
URL = "https://github.com/gradscan/gradscan"
TIMEOUT = 900

MODEL = """\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)

    def forward(self, x):
        return x * self.w
"""


def _sh_blocks(text: str) -> list:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def documented_pip_commands() -> list:
    """(where, command) for every `pip install` of gradscan the user-facing pages show, outside
    the README's set-up block (which CI runs) and its prose notes (run below)."""
    found = []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    outside_setup = readme.split("## Set up", 1)[0] + readme.split("## Usage", 1)[1]
    docs = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    for where, text in (("README.md", outside_setup), ("docs/integrations.md", docs)):
        for block in _sh_blocks(text):
            for line in block.splitlines():
                if line.startswith("pip install"):
                    found.append((where, line))
        for line in re.findall(r"^\s*- run: (pip install .*)$", text, re.M):  # a workflow's step
            found.append((where, line))
    return found


def local_url(clone: Path) -> str:
    # file://localhost/...: pip before 23.3 rejects a direct reference whose URL has no host
    # (file:///...); git reads both.
    return "file://localhost" + clone.as_posix()


def localise(command: str, clone: Path, rev: str) -> str:
    return command.replace(f"git+{URL}@main", f"git+{local_url(clone)}@{rev}")


def sh(command: str, cwd: Path, venv: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", VIRTUAL_ENV=str(venv),
               PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)  # the venv's own gradscan, not the checkout's
    env.pop("PYTHONHOME", None)
    return subprocess.run(["bash", "-eo", "pipefail", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def out(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> tuple:
    """A clone of this checkout's committed HEAD, and that commit."""
    if not (ROOT / ".git").exists():
        pytest.fail(f"{ROOT} is not a git checkout")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    path = tmp_path_factory.mktemp("clone") / "gradscan"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True, capture_output=True, timeout=TIMEOUT)
    subprocess.run(["git", "checkout", "-q", head], cwd=path, check=True, capture_output=True)
    return path, head


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True, timeout=TIMEOUT)
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "model.py").write_text(MODEL)
    return tmp_path


def test_the_documented_commands_are_found():
    commands = [c for _, c in documented_pip_commands()]
    assert any("gradscan[lsp] @ git+" in c for c in commands) and any(c.startswith("pip install flake8 ") for c in commands)
    assert all(f"git+{URL}@main" in c for c in commands), commands
    # The PyPI forms are shown only as what will work once gradscan is released.
    for page in (ROOT / "README.md", ROOT / "docs" / "integrations.md"):
        text = " ".join(page.read_text(encoding="utf-8").split())
        for m in re.finditer(r"`pip install '?gradscan(\[lsp\])?'?`", text):
            sentence = text[text.rfind(".", 0, m.start()) + 1:m.end() + 40]
            assert "once" in sentence.lower() and "released" in sentence, (page.name, sentence)


def test_each_documented_pip_install_works(clone, venv, project):
    path, head = clone
    for where, command in documented_pip_commands():
        installed = sh(localise(command, path, head), project, venv)
        assert installed.returncode == 0, (where, command, out(installed))
        checked = sh("gradscan --isolated --no-cache model.py", project, venv)
        assert checked.returncode == 1 and checked.stdout.startswith("model.py:8:18: GS101 "), (command, out(checked))
        words = shlex.split(command, comments=True)
        if "flake8" in words:
            plugin = sh("flake8 --select GS model.py", project, venv)
            assert plugin.stdout.startswith("model.py:8:18: GS101 "), out(plugin)
        if any("[lsp]" in w for w in words):
            server = sh("python -c 'import pygls.lsp.server'", project, venv)
            assert server.returncode == 0, out(server)


def test_readme_install_from_a_clone_and_the_fast_tier(clone, venv):
    """`pip install . && gradscan examples/` as written, in the clone; then the fast tier's
    command as written, collecting only (running the suite inside itself would recurse): with
    nothing but `.[test]` installed, every module imports and the oracle tier is deselected."""
    path, _ = clone
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = "pip install . && gradscan examples/"
    assert first in _sh_blocks(readme.split("## Set up", 1)[1])[0]
    result = sh(first, path, venv)
    assert result.returncode == 1 and "examples/model.py:14:28: GS101 " in result.stdout, out(result)

    [fast] = re.findall(r"`(pip install -e '\.\[test\]' && python -m pytest -m \"not oracle\")`", readme)
    collected = sh(fast + " --collect-only -q -p no:cacheprovider", path, venv)
    assert collected.returncode == 0, out(collected)
    summary = collected.stdout.strip().splitlines()[-1]
    assert re.match(r"\d+/\d+ tests collected \(\d+ deselected\)", summary), out(collected)
    assert "tests/oracle/" not in collected.stdout
