"""Which files a run checks: suffixes, default excludes, pyvenv.cfg folders, --exclude and
--extend-exclude, .gitignore, --force-exclude for files named explicitly (issue 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gradscan.config import Settings
from gradscan.files.discovery import discover
from tests.cli_support import BAD, ISOLATED, SELECT, cli, run, write

CHECK = [*ISOLATED, *SELECT]
ISSUE_DEFAULT_EXCLUDES = [".git", ".hg", ".venv", "venv", ".tox", ".nox", "build", "dist", "node_modules",
                          "__pycache__", "site-packages", ".mypy_cache", ".ruff_cache"]


def files(tmp_path: Path, *args: str, cwd: Path = None) -> list:
    """The files that got findings (every file here holds BAD, so: the files checked)."""
    r = cli([*CHECK, *args], cwd or tmp_path)
    assert r.code in (0, 1), r
    return sorted({line.split(":")[0] for line in r.lines})


def test_py_pyi_and_ipynb_are_scanned_recursively(tmp_path):
    write(tmp_path, "src/a.py")
    write(tmp_path, "src/deep/er/b.pyi")
    write(tmp_path, "src/notes.txt")
    write(tmp_path, "src/c.pyx")
    write(tmp_path, "src/d.py.bak")
    write(tmp_path, "src/nb.ipynb", '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": %s}], '
                                    '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}' % _json_lines(BAD))
    assert files(tmp_path, "src") == ["src/a.py", "src/deep/er/b.pyi", "src/nb.ipynb"]


def test_discover_yields_each_file_once_in_a_stable_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for rel in ("b/z.py", "b/a.py", "a.py", "c/__init__.py"):
        write(tmp_path, rel)
    got = [display for _, display in discover([".", "a.py", "b", str(tmp_path / "b" / "a.py")], Settings())]
    assert got == ["a.py", "b/a.py", "b/z.py", "c/__init__.py"]


@pytest.mark.parametrize("folder", ISSUE_DEFAULT_EXCLUDES)
def test_default_excludes(tmp_path, folder):
    write(tmp_path, f"{folder}/x.py")
    write(tmp_path, f"src/{folder}/y.py")
    write(tmp_path, "src/kept.py")
    assert files(tmp_path) == ["src/kept.py"]


def test_a_folder_holding_pyvenv_cfg_is_a_virtual_environment(tmp_path):
    write(tmp_path, "myenv/lib/python3.11/pkg/x.py")
    write(tmp_path, "myenv/pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path, "src/kept.py")
    assert files(tmp_path) == ["src/kept.py"]


def test_exclude_replaces_the_defaults_and_extend_exclude_adds(tmp_path):
    write(tmp_path, "build/x.py")
    write(tmp_path, "gen/y.py")
    write(tmp_path, "src/api_pb2.py")
    write(tmp_path, "src/sub/gen/z.py")
    write(tmp_path, "src/kept.py")
    assert files(tmp_path) == ["gen/y.py", "src/api_pb2.py", "src/kept.py", "src/sub/gen/z.py"]
    assert files(tmp_path, "--exclude", "gen") == ["build/x.py", "src/api_pb2.py", "src/kept.py"]
    assert files(tmp_path, "--extend-exclude", "gen/") == ["src/api_pb2.py", "src/kept.py"]
    assert files(tmp_path, "--extend-exclude", "*_pb2.py,src/sub") == ["gen/y.py", "src/kept.py"]
    assert files(tmp_path, "--extend-exclude", "gen", "--extend-exclude", "src/*.py") == []


def test_a_pattern_starting_with_dot_slash_is_anchored_at_the_project_root(tmp_path):
    write(tmp_path, "gen/y.py")
    write(tmp_path, "src/gen/z.py")
    write(tmp_path, "src/kept.py")
    assert files(tmp_path, "--extend-exclude", "./gen/") == ["src/gen/z.py", "src/kept.py"]
    assert files(tmp_path, "--extend-exclude", "gen") == ["src/kept.py"]
    assert files(tmp_path, "--extend-exclude", "./src/gen") == ["gen/y.py", "src/kept.py"]
    assert files(tmp_path, "--extend-exclude", str(tmp_path / "src" / "gen")) == ["gen/y.py", "src/kept.py"]


def test_a_pattern_with_a_slash_is_a_path_from_the_root_one_without_a_name_anywhere(tmp_path):
    """ruff's rule: `directory/foo.py` names that file, `foo.py` any file of that name."""
    write(tmp_path, "src/gen/a.py")
    write(tmp_path, "lib/src/gen/b.py")
    write(tmp_path, "lib/kept.py")
    assert files(tmp_path, "--extend-exclude", "src/gen") == ["lib/kept.py", "lib/src/gen/b.py"]
    assert files(tmp_path, "--extend-exclude", "*/gen") == ["lib/kept.py"], "* crosses folders, as in ruff's globs"
    assert files(tmp_path, "--extend-exclude", "a.py,b.py") == ["lib/kept.py"]


def test_excludes_from_the_configuration(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nextend-exclude = ["legacy"]\n')
    write(tmp_path, "legacy/x.py")
    write(tmp_path, "src/legacy/y.py")
    write(tmp_path, "src/kept.py")
    r = cli(["--no-cache", *SELECT], tmp_path / "src")
    assert sorted({line.split(":")[0] for line in r.lines}) == ["kept.py"], r


def _git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo, ".gitignore", "out/\n*_generated.py\n/top_only.py\n!keep_generated.py\n")
    write(repo, "src/.gitignore", "local.py\n")
    for rel in ("out/a.py", "src/out/b.py", "src/x_generated.py", "src/keep_generated.py", "top_only.py",
                "src/top_only.py", "src/local.py", "local.py", "src/kept.py"):
        write(repo, rel)
    write(tmp_path, ".gitignore", "*.py\n")  # above the repository: not this repository's rules
    return repo


def test_gitignore_is_respected_by_default(tmp_path):
    repo = _git_repo(tmp_path)
    assert files(repo) == ["local.py", "src/keep_generated.py", "src/kept.py", "src/top_only.py"]
    # Scanning a subfolder still applies the repository's .gitignore above it.
    assert files(repo, "src", cwd=repo) == ["src/keep_generated.py", "src/kept.py", "src/top_only.py"]
    assert files(repo / "src", cwd=repo / "src") == ["keep_generated.py", "kept.py", "top_only.py"]


def test_no_respect_gitignore(tmp_path):
    repo = _git_repo(tmp_path)
    assert files(repo, "--no-respect-gitignore") == sorted(
        ["out/a.py", "src/out/b.py", "src/x_generated.py", "src/keep_generated.py", "top_only.py",
         "src/top_only.py", "src/local.py", "local.py", "src/kept.py"])
    write(repo, "pyproject.toml", "[tool.gradscan]\nrespect-gitignore = false\n")
    r = cli(["--no-cache", *SELECT], repo)
    assert "out/a.py" in {line.split(":")[0] for line in r.lines}


def test_files_named_explicitly_are_checked_unless_force_exclude(tmp_path):
    repo = _git_repo(tmp_path)
    write(repo, "build/gen.py")
    write(repo, "venv/lib/x.py")
    named = ["build/gen.py", "out/a.py", "src/x_generated.py", "venv/lib/x.py", "src/kept.py"]
    assert files(repo, *named) == sorted(named), "explicit files are checked, as in ruff and flake8"
    assert files(repo, "--force-exclude", *named) == ["src/kept.py"]
    assert files(repo, "--force-exclude", "--extend-exclude", "kept.py", *named) == []
    assert files(repo, "--force-exclude", "build") == [], "an excluded folder named explicitly too"
    assert files(repo, "build") == ["build/gen.py"]


def test_force_exclude_from_the_configuration(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nforce-exclude = true\nextend-exclude = ["migrations"]\n')
    write(tmp_path, "app/migrations/0001.py")
    write(tmp_path, "app/models.py")
    r = cli(["--no-cache", *SELECT, "app/migrations/0001.py", "app/models.py"], tmp_path)
    assert sorted({line.split(":")[0] for line in r.lines}) == ["app/models.py"], r
    r = cli(["--no-cache", *SELECT, "--no-force-exclude", "app/migrations/0001.py"], tmp_path)
    assert r.code == 1


def test_every_given_file_excluded_exits_0_quietly(tmp_path):
    """What pre-commit does: pass excluded files by name with --force-exclude."""
    write(tmp_path, "build/a.py")
    write(tmp_path, ".venv/b.py")
    for r in (cli([*CHECK, "--force-exclude", "build/a.py", ".venv/b.py"], tmp_path),
              run([*CHECK, "--force-exclude", "build/a.py", ".venv/b.py"], tmp_path)):
        assert (r.code, r.stdout, r.stderr) == (0, "", ""), r


def test_nothing_matched_is_a_warning(tmp_path):
    """An empty folder or an exclude that swallows everything checks nothing: a CI
    misconfiguration must not pass silently (exit 0 still: nothing was found)."""
    (tmp_path / "empty").mkdir()
    write(tmp_path, "src/model.py")
    for args in (["empty"], ["--extend-exclude", "*.py", "src"]):
        r = run([*CHECK, *args], tmp_path)
        assert (r.code, r.stdout) == (0, ""), r
        assert r.stderr.startswith(f"gradscan: warning: no Python file matched {args[-1]} "), r
        quiet = run([*CHECK, "-q", *args], tmp_path)
        assert (quiet.code, quiet.stdout, quiet.stderr) == (0, "", ""), quiet


def _json_lines(text: str) -> str:
    import json

    return json.dumps(text.splitlines(keepends=True))


def test_a_symlinked_file_is_shown_under_its_own_name(tmp_path):
    target = write(tmp_path, "elsewhere/real.py")
    (tmp_path / "project" / "src").mkdir(parents=True)
    try:
        (tmp_path / "project" / "src" / "link.py").symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks are not available here")
    assert files(tmp_path / "project", "src", cwd=tmp_path / "project") == ["src/link.py"]


def test_without_pathspec_the_scan_goes_on_and_says_why_gitignore_is_unread(tmp_path):
    """Run from a checkout without its dependencies installed (`python3 -m gradscan`), gradscan
    must not crash on a .gitignore: it checks the files and warns once."""
    import subprocess
    import sys
    import textwrap

    (tmp_path / ".gitignore").write_text("ignored.py\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("*.tmp\n")
    (tmp_path / "sub" / "other.py").write_text("x = 1\n")
    (tmp_path / "model.py").write_text(BAD)
    script = textwrap.dedent("""
        import sys
        sys.modules["pathspec"] = None  # as if not installed: its import raises ImportError
        from gradscan.cli import main
        main()
    """)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", script, "--isolated", "--no-cache", str(tmp_path)], cwd=root,
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("pathspec package is not installed") == 1
    assert "model.py" in proc.stdout and proc.returncode == 1
