"""benchmarks/corpus.py without the network: corpus selection, and the notebooks corpus read
from a local bare mirror (only `.ipynb` files, code-cell lines counted)."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("gradscan_bench_corpus", ROOT / "benchmarks" / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


corpus = _load()


def test_the_two_package_corpora_are_separate_and_pinned():
    assert set(corpus.CORPORA) == {"library", "training"}
    assert not set(corpus.PACKAGES) & set(corpus.TRAINING_PACKAGES)
    for packages in corpus.CORPORA.values():
        assert all(v and v[0].isdigit() for v in packages.values()), "exact version pins"
    assert corpus._select("trl,d2l", "training") == ["trl", "d2l"]
    with pytest.raises(ValueError):
        corpus._select("trl", "library")
    for repo, commit in corpus.NOTEBOOKS:
        assert repo.count("/") == 1 and len(commit) == 40


def test_corpus_roots(tmp_path):
    assert corpus.corpus_root(tmp_path, "library") == tmp_path.resolve()
    assert corpus.corpus_root(tmp_path, "training") == tmp_path.resolve() / "training"
    assert corpus.corpus_root(tmp_path, "notebooks") == tmp_path.resolve() / "notebooks"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_notebooks_come_from_a_local_mirror(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "ch01").mkdir(parents=True)
    cells = [
        {"cell_type": "markdown", "source": ["# Title\n"]},
        {"cell_type": "code", "source": ["import torch\n", "x = torch.ones(2)\n"]},
        {"cell_type": "code", "source": "y = x * 2"},
    ]
    (work / "ch01" / "intro.ipynb").write_text(json.dumps({"cells": cells}), encoding="utf-8")
    (work / "helper.py").write_text("print('not a notebook')\n", encoding="utf-8")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "notebooks"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    mirror = tmp_path / "mirror"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirror / "someone+course" / "repo")], check=True)

    monkeypatch.setattr(corpus, "NOTEBOOKS", [("someone/course", commit)])
    assert corpus.main(["--corpus", "notebooks", "--cache", str(tmp_path / "cache"), "--mirror", str(mirror), "--stats"]) == 0
    root = corpus.corpus_root(tmp_path / "cache", "notebooks")
    folder = corpus.notebook_dirs(root)["someone/course"]
    assert folder.name == f"someone+course-{commit}"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        ".gradscan-corpus.json", "ch01/intro.ipynb"]
    assert corpus.count_notebook_lines(folder) == (1, 3)
    # complete folders are kept: a second run needs no mirror
    assert corpus.main(["--corpus", "notebooks", "--cache", str(tmp_path / "cache"), "--mirror", str(tmp_path / "none")]) == 0


def test_the_file_pinned_notebooks_manifest_is_well_formed():
    hexdigits = set("0123456789abcdef")
    for repo, files in corpus.NOTEBOOK_FILES.items():
        assert repo.count("/") == 1
        paths = [path for path, _, _ in files]
        assert len(set(paths)) == len(paths)
        for path, commit, sha256 in files:
            assert path.endswith(".ipynb") and not path.startswith("/") and ".." not in path
            assert len(commit) == 40 and set(commit) <= hexdigits
            assert len(sha256) == 64 and set(sha256) <= hexdigits
    # fastbook: the twenty numbered chapters of clean/, nothing else
    chapters = [path for path, _, _ in corpus.NOTEBOOK_FILES["fastai/fastbook"]]
    assert [p.split("/")[1][:2] for p in chapters] == [f"{n:02d}" for n in range(1, 21)]
    assert all(p.startswith("clean/") for p in chapters)


def test_file_pinned_notebooks_count_only_when_present_with_the_pinned_content(tmp_path, monkeypatch, capsys):
    import hashlib

    first = json.dumps({"cells": [{"cell_type": "code", "source": ["a = 1\n", "b = 2\n"]}]}).encode()
    second = json.dumps({"cells": [{"cell_type": "code", "source": "c = 3"}]}).encode()
    manifest = [("part/one.ipynb", "a" * 40, hashlib.sha256(first).hexdigest()),
                ("part/two.ipynb", "b" * 40, hashlib.sha256(second).hexdigest())]
    monkeypatch.setattr(corpus, "NOTEBOOKS", [])
    monkeypatch.setattr(corpus, "NOTEBOOK_FILES", {"someone/book": manifest})
    cache = tmp_path / "cache"
    root = corpus.corpus_root(cache, "notebooks")
    folder = root / "someone+book"

    # nothing there: the run still succeeds, says what is missing and where it comes from
    assert corpus.main(["--corpus", "notebooks", "--cache", str(cache)]) == 0
    err = capsys.readouterr().err
    assert "2 of 2 notebooks missing" in err and "not downloaded" in err
    assert f"missing: part/one.ipynb @ {'a' * 40}" in err
    assert "https://raw.githubusercontent.com/someone/book/<commit>/<path>" in err
    assert corpus.notebook_dirs(root) == {}

    # one present, one with other content: still left out, and the changed one is named
    (folder / "part").mkdir(parents=True)
    (folder / "part" / "one.ipynb").write_bytes(first)
    (folder / "part" / "two.ipynb").write_bytes(second + b" ")
    assert corpus.check_notebook_files(root, "someone/book") == ([], ["part/two.ipynb"])
    assert corpus.main(["--corpus", "notebooks", "--cache", str(cache)]) == 0
    assert f"different: part/two.ipynb @ {'b' * 40}" in capsys.readouterr().err
    assert corpus.notebook_dirs(root) == {}

    # the pinned content: included, and counted like any notebook folder
    (folder / "part" / "two.ipynb").write_bytes(second)
    assert corpus.main(["--corpus", "notebooks", "--cache", str(cache), "--stats"]) == 0
    assert "2 notebooks pinned file by file: present" in capsys.readouterr().err
    assert corpus.notebook_dirs(root) == {"someone/book": folder}
    assert corpus.count_notebook_lines(folder) == (2, 3)
