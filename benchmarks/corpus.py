"""Fetch the gradscan benchmark corpora: real ML libraries, training code, notebooks.

There are three corpora, selected with ``--corpus``:

* ``library`` (the default): the ``.py`` files of pinned library wheels,
  described below, extracted to ``<cache>/<name>-<version>/``;
* ``training``: the ``.py`` files of pinned releases of training libraries
  (RL agents, trainers, recipes, tutorials; ``TRAINING_PACKAGES``), fetched the
  same way into ``<cache>/training/<name>-<version>/``. Library wheels hold
  models, not training, so this corpus is where the training-loop rules meet
  real code;
* ``notebooks``: the ``.ipynb`` files of public tutorial repositories, each
  pinned to a commit (``NOTEBOOKS``), extracted into
  ``<cache>/notebooks/<owner>+<name>-<commit>/`` from a local bare mirror
  (``--mirror DIR``, holding ``<owner>+<name>/repo``) or else from
  ``https://github.com/<owner>/<name>/archive/<commit>.tar.gz``; plus
  notebooks pinned file by file (``NOTEBOOK_FILES``: fastai/fastbook's
  chapters, each with its commit and sha256), which are never downloaded:
  they count when present in ``<cache>/notebooks/<owner>+<name>/<path>``
  with the pinned content, and a message says what is missing otherwise.

The cache root holds the library packages and the ``training/`` and ``notebooks/``
folders, so scan the library corpus through its package folders (:func:`package_dirs`),
not the whole root.

The library corpus:

gradscan is meant to run over mature deep-learning code and say little. This
corpus is that code: the ``.py`` files of pinned releases of transformers,
diffusers, timm, pyro, keras, tf-keras, flax, tensorflow-probability and
lightning. It serves two purposes:

* triage: every finding gradscan reports here is a candidate false positive
  (these libraries are heavily used, so a real gradient bug is rare), and
  pinned versions keep the finding counts comparable from run to run;
* speed: the corpus is large enough (about 8,000 files, over three million
  lines) to compare gradscan's running time with the time libcst alone takes
  to parse the same files.

Each package is fetched with ``pip download --no-deps`` (never pulling torch,
tensorflow or jax), and only its ``.py`` files are extracted to
``<cache>/<name>-<version>/``. The cache defaults to
``~/.cache/gradscan-bench`` (outside the repository, so the sources are never
committed or scanned by the project's own checks); override it with
``--cache DIR`` or the ``GRADSCAN_BENCH_CACHE`` environment variable. A folder
that is already complete is not downloaded again.

Command line::

    python benchmarks/corpus.py                    # fetch all, print root
    python benchmarks/corpus.py --only timm,flax   # fetch a subset
    python benchmarks/corpus.py --stats            # plus files/lines per package
    python benchmarks/corpus.py --corpus training  # the training-code corpus
    python benchmarks/corpus.py --corpus notebooks --mirror /work/.mirror

The corpus root is printed as the last line of stdout, so a shell script can
use ``root=$(python benchmarks/corpus.py | tail -1)``; progress goes to stderr.

As a module::

    from corpus import PACKAGES, ensure_corpus, package_dirs
    root = ensure_corpus(only=["timm"])
    package_dirs(root)  # {"timm": Path(".../timm-1.0.31")}
    troot = ensure_corpus(corpus="training", only=["trl"])
    package_dirs(troot, corpus="training")

Standard library only; works on Python 3.9+.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Optional, Tuple, Union

# Exact pins: changing one changes the benchmark, so do it deliberately.
PACKAGES: Dict[str, str] = {
    "transformers": "5.23.0",
    "diffusers": "0.42.1",
    "timm": "1.0.31",
    "pyro-ppl": "1.9.2",
    "keras": "3.15.1",
    "tf-keras": "2.21.0",
    "flax": "0.12.8",
    "tensorflow-probability": "0.25.0",
    "lightning": "2.6.6",
}

# Training code: each pinned to the newest release pip could download when the
# corpus was added. Left out: none so far (see docs/evaluation.md).
TRAINING_PACKAGES: Dict[str, str] = {
    "labml-nn": "0.5.1",
    "d2l": "1.0.3",
    "stable-baselines3": "2.9.2",
    "cleanrl": "0.4.8",
    "trl": "1.16.0",
    "torchtune": "0.6.1",
    "denoising-diffusion-pytorch": "2.3.4",
    "lightning-bolts": "0.7.0",
    "torchrl": "0.14.1",
    "tianshou": "2.0.1",
    "skrl": "2.1.1",
    "tf-models-official": "2.20.0",
    "gpflow": "2.11.2",
    "dopamine-rl": "4.1.2",
    "numpyro": "0.22.0",
    "rlax": "0.1.9",
    "distrax": "0.1.9",
}

# Package corpora by name, and the sub-folder of the cache each lives in (the
# library corpus keeps the cache root, as before the others existed).
CORPORA: Dict[str, Dict[str, str]] = {
    "library": PACKAGES,
    "training": TRAINING_PACKAGES,
}
_SUBDIR = {"library": "", "training": "training", "notebooks": "notebooks"}

# Notebook repositories: (owner/name, commit scanned).
NOTEBOOKS: List[Tuple[str, str]] = [
    ("ageron/handson-ml3", "e3f3f9e66d58cfa1d068a498433063a1d3fba9ef"),
    ("rasbt/LLMs-from-scratch", "28c65cdfbc3338e2e040016eea4b7fdf556e4d57"),
    ("karpathy/nn-zero-to-hero", "73c3fcc741f0ec104ca850b1fb0df90e7e8d4cde"),
]

# Notebooks pinned file by file: owner/name -> [(path, commit, sha256 of the
# file)]. fastai/fastbook's repository (about 965 MB) was too large to mirror
# where the corpus was assembled, so its chapter notebooks were read one file
# at a time from a stored index of GitHub files, each at the commit the index
# held for it (not one commit for the whole book: 10_nlp and 12_nlp_dive are
# older versions that still carry outputs). They are never downloaded here:
# place them under <cache>/notebooks/<owner>+<name>/<path>; the sha256 says
# whether a copy is the one that was scanned.
NOTEBOOK_FILES: Dict[str, List[Tuple[str, str, str]]] = {
    "fastai/fastbook": [
        ("clean/01_intro.ipynb", "cf9fae191ce1055737d806b2001123955194ca2a",
         "54752cef3f55a6753fdcebf9df08bc84c879cf56bad28474fab1267af580a265"),
        ("clean/02_production.ipynb", "a0686e1fb3ee329530a787433e975b0effbd0e08",
         "42d4a3a06387410025712f15cdd17b89fd1c11ad9c061d10f117dca5ceebf898"),
        ("clean/03_ethics.ipynb", "dd985841b6599d238e5ccb1e590f255ad6a66853",
         "224d98e48ac328fe7ac45b1a3abdbaecf817b85150f23237173e0656115b1ac2"),
        ("clean/04_mnist_basics.ipynb", "098e12df996461ec607c774cf4e601ed716796a6",
         "066c701cc96cfc4f80eef782b3c12e8ec332d9d8cf67b813c8b3663ecf293145"),
        ("clean/05_pet_breeds.ipynb", "be67ff5ced307270b827150cab25d429c4109469",
         "ec860312bd4ab668fd7093247443a33d5b83a5f8bdd06fbab839f68d5a0defd6"),
        ("clean/06_multicat.ipynb", "dd985841b6599d238e5ccb1e590f255ad6a66853",
         "12b84b81193f7c15fcaa873e01f97b71bd57bfaddbcc1d9931f78961810c5384"),
        ("clean/07_sizing_and_tta.ipynb", "cf9fae191ce1055737d806b2001123955194ca2a",
         "e103e5fa7eebcd25ad462942a988f90dab7e2c481e507acb712d909c64567c8b"),
        ("clean/08_collab.ipynb", "be67ff5ced307270b827150cab25d429c4109469",
         "08daaddddf184a4e84db7469ecbdc891e38532fd377bbb5c3e91305d3c069104"),
        ("clean/09_tabular.ipynb", "cf9fae191ce1055737d806b2001123955194ca2a",
         "a67f6b39f4471d227cbed9438901d5a6a2cb5f1de4a8ea3f766cbce5cb64e5b9"),
        ("clean/10_nlp.ipynb", "2e431d1ef7caf76a0a3f29593dc2148a979fac1e",
         "021dde7398167b01f71087c3117820f7b9e814ebfd4cf9dd569e35d19012c1de"),
        ("clean/11_midlevel_data.ipynb", "be67ff5ced307270b827150cab25d429c4109469",
         "d2ce98ad197d05d2764f614914992fe3ff3efe9f4aa2b35ce19347cd9de42f51"),
        ("clean/12_nlp_dive.ipynb", "36fbb9384f202bd159595e1d9fa9bcfcf8dfbd95",
         "81c83920eaf659030da00c70f338302aa9d2357789ad62112c39f1a339f073e1"),
        ("clean/13_convolutions.ipynb", "dd985841b6599d238e5ccb1e590f255ad6a66853",
         "bda765dbf5aa3295a0ccf27c4f5a751e25d5308d46e2aa0527ef4dd65191195c"),
        ("clean/14_resnet.ipynb", "dd985841b6599d238e5ccb1e590f255ad6a66853",
         "db09e4ceaaf268e7d516caf96deb40779cd5aa3c93e5936ea440f8fece571c87"),
        ("clean/15_arch_details.ipynb", "be67ff5ced307270b827150cab25d429c4109469",
         "8aa0ac14643aacc46eaf11c2403ec803341bf0c73e239044fb4f2b7900206351"),
        ("clean/16_accel_sgd.ipynb", "cf9fae191ce1055737d806b2001123955194ca2a",
         "9d69963783652098e524ddafa3624eee0ea7faef214531519cf36ae71f57141b"),
        ("clean/17_foundations.ipynb", "cf9fae191ce1055737d806b2001123955194ca2a",
         "16a8fb88612b49bb0dcc63d3f56276f8505d907815bd45dccaaedaedb4fcffa4"),
        ("clean/18_CAM.ipynb", "dd985841b6599d238e5ccb1e590f255ad6a66853",
         "946caa1f63146a7dce4256f7f9a49ffd74520a66f7bd7e3418f1b611f02928fa"),
        ("clean/19_learner.ipynb", "02af2d7c9189f44158c79438fee80d4a53d305dd",
         "12557731153def79a04b1fff0a73ba23d1397ab66ee9733dc168c2944b37c5c2"),
        ("clean/20_conclusion.ipynb", "be67ff5ced307270b827150cab25d429c4109469",
         "c16a55d360f08588df3f3999f911d87e093ee3a3ae07167b9548631527453304"),
    ],
}

DEFAULT_CACHE = Path("~/.cache/gradscan-bench")
CACHE_ENV = "GRADSCAN_BENCH_CACHE"
MARKER = ".gradscan-corpus.json"

# Several pins require Python >= 3.11. Asking pip for wheels tagged for a
# fixed interpreter makes the download independent of the one running this
# script (which may be 3.9), and "--platform any --abi none" restricts it to
# pure wheels, whose sources are the same on every platform.
_PURE_WHEEL_ARGS = [
    "--only-binary=:all:",
    "--platform", "any",
    "--implementation", "py",
    "--abi", "none",
    "--python-version", "3.12",
]
# Fallbacks, for a future pin that ships no pure wheel: a wheel built for this
# machine, then the sdist (whose .py files are usually the same).
_ATTEMPTS: List[Tuple[str, List[str]]] = [
    ("pure wheel", _PURE_WHEEL_ARGS),
    ("platform wheel", ["--only-binary=:all:"]),
    ("sdist", ["--no-binary=:all:"]),
]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cache_root(cache: Union[str, os.PathLike, None] = None) -> Path:
    """Resolve the corpus root: argument, then environment, then default."""
    if cache is None:
        cache = os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(cache).expanduser().resolve()


def _dir_name(name: str, version: str) -> str:
    return f"{name}-{version}"


def _is_complete(folder: Path, name: str, version: str) -> bool:
    try:
        info = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("name") == name and info.get("version") == version


def package_dirs(root: Union[str, os.PathLike],
                 corpus: str = "library") -> Dict[str, Path]:
    """Map each pinned package that is complete under ``root`` to its folder.

    ``root`` is what :func:`ensure_corpus` returned for the same ``corpus``.
    Packages not fetched (e.g. excluded with ``only``) are left out, so callers
    can iterate over whatever subset is present.
    """
    root = Path(root)
    dirs = {}
    for name, version in CORPORA[corpus].items():
        folder = root / _dir_name(name, version)
        if _is_complete(folder, name, version):
            dirs[name] = folder
    return dirs


def _pip_download(name: str, version: str, dest: Path) -> Tuple[Path, str]:
    """Download one distribution of name==version into dest, no dependencies."""
    errors = []
    for kind, extra in _ATTEMPTS:
        cmd = [
            sys.executable, "-m", "pip", "download",
            "--no-deps", "--no-input", "--disable-pip-version-check",
            *extra,
            f"{name}=={version}",
            "-d", str(dest),
        ]
        # Captured: pip's own output is noise unless every attempt fails.
        proc = subprocess.run(cmd, capture_output=True, text=True)
        files = [p for p in dest.iterdir() if p.is_file()]
        if proc.returncode == 0 and len(files) == 1:
            return files[0], kind
        for p in files:
            p.unlink()
        errors.append(f"--- {kind}: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    raise RuntimeError(
        f"could not download {name}=={version}:\n" + "\n".join(errors)
    )


def _safe_relpath(member: str) -> Optional[PurePosixPath]:
    """Return a member's relative path, or None if it could escape the target."""
    path = PurePosixPath(member)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def _archive_py_files(archive: Path) -> Iterable[Tuple[PurePosixPath, bytes]]:
    """Yield (relative path, content) for every .py file in a wheel or sdist."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.endswith(".py"):
                    continue
                rel = _safe_relpath(info.filename)
                if rel is None:
                    continue
                # An sdist zip wraps everything in "<name>-<version>/".
                if archive.suffix == ".zip":
                    rel = PurePosixPath(*rel.parts[1:])
                if rel.parts:
                    yield rel, zf.read(info)
    elif archive.name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar")):
        with tarfile.open(archive) as tf:
            for info in tf:
                if not info.isfile() or not info.name.endswith(".py"):
                    continue
                rel = _safe_relpath(info.name)
                if rel is None or len(rel.parts) < 2:
                    continue
                f = tf.extractfile(info)
                if f is not None:
                    yield PurePosixPath(*rel.parts[1:]), f.read()
    else:
        raise RuntimeError(f"unknown archive type: {archive.name}")


def _fetch(root: Path, name: str, version: str) -> Path:
    final = root / _dir_name(name, version)
    # Build in a sibling folder and rename it into place, so an interrupted
    # run never leaves a half-extracted folder that looks complete.
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    try:
        with tempfile.TemporaryDirectory(prefix="gradscan-dl-") as dl:
            archive, kind = _pip_download(name, version, Path(dl))
            sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
            out = work / "src"
            count = 0
            for rel, data in _archive_py_files(archive):
                target = out.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                count += 1
            if count == 0:
                raise RuntimeError(f"{archive.name} contains no .py files")
            marker = {
                "name": name,
                "version": version,
                "archive": archive.name,
                "kind": kind,
                "sha256": sha256,
                "py_files": count,
            }
            (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n",
                                      encoding="utf-8")
        if final.exists():
            # No marker, so a leftover from an older layout or a manual edit.
            shutil.rmtree(final)
        try:
            os.replace(out, final)
        except OSError:
            # Another process finished the same package first: keep theirs.
            if not _is_complete(final, name, version):
                raise
        _log(f"  {name}=={version}: {count} .py files from {archive.name}")
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _select(only: Union[str, Iterable[str], None],
            corpus: str = "library") -> List[str]:
    packages = CORPORA[corpus]
    if only is None:
        return list(packages)
    if isinstance(only, str):
        only = only.split(",")
    names = [n.strip() for n in only if n.strip()]
    unknown = [n for n in names if n not in packages]
    if unknown:
        raise ValueError(
            f"unknown package(s) {', '.join(unknown)}; "
            f"known: {', '.join(packages)}"
        )
    return names


def corpus_root(cache: Union[str, os.PathLike, None] = None,
                corpus: str = "library") -> Path:
    """The folder one corpus lives in: the cache root, or a sub-folder of it."""
    root = cache_root(cache)
    return root / _SUBDIR[corpus] if _SUBDIR[corpus] else root


def ensure_corpus(
    cache: Union[str, os.PathLike, None] = None,
    only: Union[str, Iterable[str], None] = None,
    corpus: str = "library",
) -> Path:
    """Make sure the pinned packages (or the ``only`` subset) are extracted.

    ``corpus`` is ``"library"`` or ``"training"`` (see :func:`ensure_notebooks`
    for the notebooks). Returns the corpus root; use :func:`package_dirs` for
    the per-package folders. ``only`` takes package names as a list or a
    comma-separated string. Raises RuntimeError if a download fails.
    """
    root = corpus_root(cache, corpus)
    root.mkdir(parents=True, exist_ok=True)
    for name in _select(only, corpus):
        version = CORPORA[corpus][name]
        folder = root / _dir_name(name, version)
        if _is_complete(folder, name, version):
            _log(f"  {name}=={version}: cached")
            continue
        _log(f"  {name}=={version}: downloading")
        _fetch(root, name, version)
    return root


def count_sources(folder: Path) -> Tuple[int, int]:
    """Return (number of .py files, number of lines) under folder."""
    files = lines = 0
    for path in folder.rglob("*.py"):
        data = path.read_bytes()
        files += 1
        lines += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return files, lines


def notebook_dir_name(repo: str, commit: str) -> str:
    return f"{repo.replace('/', '+')}-{commit}"


def _notebook_members(mirror: Optional[Path], repo: str,
                      commit: str) -> Iterable[Tuple[PurePosixPath, bytes]]:
    """Yield (path, content) of every .ipynb file of repo at commit.

    Read from a local bare mirror (``<mirror>/<owner>+<name>/repo``) with
    ``git archive`` when there is one, else from GitHub's archive of the
    commit. Either way only the notebooks are kept.
    """
    git_dir = mirror / repo.replace("/", "+") / "repo" if mirror else None
    with tempfile.TemporaryDirectory(prefix="gradscan-nb-") as tmp:
        archive = Path(tmp) / "src.tar"
        if git_dir is not None and git_dir.is_dir():
            # --prefix gives the same one-folder layout as GitHub's archive.
            subprocess.run(
                ["git", "--git-dir", str(git_dir), "archive", "--format=tar",
                 "--prefix=src/", "-o", str(archive), commit],
                check=True, capture_output=True)
        else:
            import urllib.request
            url = f"https://github.com/{repo}/archive/{commit}.tar.gz"
            with urllib.request.urlopen(url) as resp, open(archive, "wb") as out:
                shutil.copyfileobj(resp, out)
        with tarfile.open(archive) as tf:
            for info in tf:
                if not info.isfile() or not info.name.endswith(".ipynb"):
                    continue
                rel = _safe_relpath(info.name)
                if rel is None or len(rel.parts) < 2:
                    continue
                f = tf.extractfile(info)
                if f is not None:
                    yield PurePosixPath(*rel.parts[1:]), f.read()


def ensure_notebooks(cache: Union[str, os.PathLike, None] = None,
                     mirror: Union[str, os.PathLike, None] = None) -> Path:
    """Extract the .ipynb files of every pinned NOTEBOOKS repository.

    Returns the notebooks root; each repository is in
    ``<root>/<owner>+<name>-<commit>/``. A complete folder is kept.
    """
    root = corpus_root(cache, "notebooks")
    root.mkdir(parents=True, exist_ok=True)
    mirror_path = Path(mirror).expanduser() if mirror else None
    for repo, commit in NOTEBOOKS:
        final = root / notebook_dir_name(repo, commit)
        if _is_complete(final, repo, commit):
            _log(f"  {repo}@{commit[:12]}: cached")
            continue
        work = Path(tempfile.mkdtemp(prefix=".tmp-nb-", dir=root))
        try:
            out = work / "src"
            count = 0
            for rel, data in _notebook_members(mirror_path, repo, commit):
                target = out.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                count += 1
            if count == 0:
                raise RuntimeError(f"{repo}@{commit} has no .ipynb files")
            marker = {"name": repo, "version": commit, "ipynb_files": count}
            (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n",
                                      encoding="utf-8")
            if final.exists():
                shutil.rmtree(final)
            os.replace(out, final)
            _log(f"  {repo}@{commit[:12]}: {count} notebooks")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    _report_notebook_files(root)
    return root


def notebook_dirs(root: Union[str, os.PathLike]) -> Dict[str, Path]:
    """Map each pinned notebook repository complete under root to its folder.

    A repository pinned file by file (NOTEBOOK_FILES) counts only when every
    file is present with the pinned sha256.
    """
    root = Path(root)
    dirs = {}
    for repo, commit in NOTEBOOKS:
        folder = root / notebook_dir_name(repo, commit)
        if _is_complete(folder, repo, commit):
            dirs[repo] = folder
    for repo in NOTEBOOK_FILES:
        missing, changed = check_notebook_files(root, repo)
        if not missing and not changed:
            dirs[repo] = root / repo.replace("/", "+")
    return dirs


def check_notebook_files(root: Union[str, os.PathLike],
                         repo: str) -> Tuple[List[str], List[str]]:
    """Return (missing paths, paths whose content differs) of a file-pinned repo."""
    folder = Path(root) / repo.replace("/", "+")
    missing, changed = [], []
    for path, _commit, sha256 in NOTEBOOK_FILES[repo]:
        target = folder.joinpath(*PurePosixPath(path).parts)
        try:
            data = target.read_bytes()
        except OSError:
            missing.append(path)
            continue
        if hashlib.sha256(data).hexdigest() != sha256:
            changed.append(path)
    return missing, changed


def _report_notebook_files(root: Path) -> None:
    """Say, for each file-pinned repository, whether its copy is complete.

    Nothing is downloaded: these notebooks came from a stored index of GitHub
    files, so a machine without it gets a message naming what is missing and
    where each file comes from, and the corpus goes on without them.
    """
    for repo, files in NOTEBOOK_FILES.items():
        folder = root / repo.replace("/", "+")
        missing, changed = check_notebook_files(root, repo)
        if not missing and not changed:
            _log(f"  {repo}: {len(files)} notebooks pinned file by file: present")
            continue
        _log(f"  {repo}: {len(missing)} of {len(files)} notebooks missing and "
             f"{len(changed)} different from the pinned sha256 in {folder}; "
             f"the repository is left out of the corpus. They are not "
             f"downloaded by this script: each is {repo}'s <path> at its "
             f"pinned commit (NOTEBOOK_FILES in benchmarks/corpus.py), e.g. "
             f"https://raw.githubusercontent.com/{repo}/<commit>/<path>, "
             f"saved as {folder}/<path>.")
        commits = {path: commit for path, commit, _ in files}
        for path in missing:
            _log(f"    missing: {path} @ {commits[path]}")
        for path in changed:
            _log(f"    different: {path} @ {commits[path]}")


def count_notebook_lines(folder: Path) -> Tuple[int, int]:
    """Return (number of notebooks, lines of code cells) under folder.

    Only code cells count: they are what gradscan reads. An unreadable
    notebook counts as a file with no lines.
    """
    files = lines = 0
    for path in folder.rglob("*.ipynb"):
        files += 1
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue
        for cell in cells:
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            src = cell.get("source", "")
            text = "".join(src) if isinstance(src, list) else str(src)
            if text:
                lines += text.count("\n") + (0 if text.endswith("\n") else 1)
    return files, lines


def _print_stats(root: Path, names: List[str], corpus: str = "library") -> None:
    rows = []
    if corpus == "notebooks":
        for repo, folder in notebook_dirs(root).items():
            files, lines = count_notebook_lines(folder)
            pin = dict(NOTEBOOKS).get(repo, "per file")[:12]
            rows.append((repo, pin, files, lines))
    else:
        dirs = package_dirs(root, corpus)
        for name in names:
            files, lines = count_sources(dirs[name])
            rows.append((name, CORPORA[corpus][name], files, lines))
    width = max(len(r[0]) for r in rows + [("package",)])
    _log(f"{'package':<{width}}  {'version':<8}  {'files':>6}  {'lines':>9}")
    for name, version, files, lines in rows:
        _log(f"{name:<{width}}  {version:<8}  {files:>6}  {lines:>9}")
    _log(f"{'total':<{width}}  {'':<8}  {sum(r[2] for r in rows):>6}  "
         f"{sum(r[3] for r in rows):>9}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fetch the gradscan benchmark corpus and print its root.")
    parser.add_argument(
        "--cache", metavar="DIR",
        help=f"corpus root (default: ${CACHE_ENV} or {DEFAULT_CACHE})")
    parser.add_argument(
        "--corpus", choices=["library", "training", "notebooks"],
        default="library",
        help="which corpus (default: library, the pinned library wheels)")
    parser.add_argument(
        "--only", metavar="NAME[,NAME]",
        help="fetch only these packages of a package corpus")
    parser.add_argument(
        "--mirror", metavar="DIR",
        help="notebooks: read repositories from bare mirrors "
             "DIR/<owner>+<name>/repo instead of downloading them")
    parser.add_argument(
        "--stats", action="store_true",
        help="print the number of .py files and lines per package on stderr")
    args = parser.parse_args(argv)

    names: List[str] = []
    if args.corpus != "notebooks":
        try:
            names = _select(args.only, args.corpus)
        except ValueError as exc:
            parser.error(str(exc))
    elif args.only:
        parser.error("--only applies to a package corpus")
    try:
        if args.corpus == "notebooks":
            root = ensure_notebooks(args.cache, args.mirror)
        else:
            root = ensure_corpus(args.cache, names, args.corpus)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        _log(f"error: {exc}")
        return 1
    if args.stats:
        _print_stats(root, names, args.corpus)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
