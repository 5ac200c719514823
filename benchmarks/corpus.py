"""Fetch the gradscan benchmark corpus: the Python sources of real ML libraries.

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

The corpus root is printed as the last line of stdout, so a shell script can
use ``root=$(python benchmarks/corpus.py | tail -1)``; progress goes to stderr.

As a module::

    from corpus import PACKAGES, ensure_corpus, package_dirs
    root = ensure_corpus(only=["timm"])
    package_dirs(root)  # {"timm": Path(".../timm-1.0.31")}

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


def package_dirs(root: Union[str, os.PathLike]) -> Dict[str, Path]:
    """Map each pinned package that is complete under ``root`` to its folder.

    Packages not fetched (e.g. excluded with ``only``) are left out, so callers
    can iterate over whatever subset is present.
    """
    root = Path(root)
    dirs = {}
    for name, version in PACKAGES.items():
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


def _select(only: Union[str, Iterable[str], None]) -> List[str]:
    if only is None:
        return list(PACKAGES)
    if isinstance(only, str):
        only = only.split(",")
    names = [n.strip() for n in only if n.strip()]
    unknown = [n for n in names if n not in PACKAGES]
    if unknown:
        raise ValueError(
            f"unknown package(s) {', '.join(unknown)}; "
            f"known: {', '.join(PACKAGES)}"
        )
    return names


def ensure_corpus(
    cache: Union[str, os.PathLike, None] = None,
    only: Union[str, Iterable[str], None] = None,
) -> Path:
    """Make sure the pinned packages (or the ``only`` subset) are extracted.

    Returns the corpus root; use :func:`package_dirs` for the per-package
    folders. ``only`` takes package names as a list or a comma-separated
    string. Raises RuntimeError if a download fails.
    """
    root = cache_root(cache)
    root.mkdir(parents=True, exist_ok=True)
    for name in _select(only):
        version = PACKAGES[name]
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


def _print_stats(root: Path, names: List[str]) -> None:
    dirs = package_dirs(root)
    rows = []
    for name in names:
        files, lines = count_sources(dirs[name])
        rows.append((name, PACKAGES[name], files, lines))
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
        "--only", metavar="NAME[,NAME]",
        help=f"fetch only these packages (known: {', '.join(PACKAGES)})")
    parser.add_argument(
        "--stats", action="store_true",
        help="print the number of .py files and lines per package on stderr")
    args = parser.parse_args(argv)

    try:
        names = _select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        root = ensure_corpus(args.cache, names)
    except (RuntimeError, OSError) as exc:
        _log(f"error: {exc}")
        return 1
    if args.stats:
        _print_stats(root, names)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
