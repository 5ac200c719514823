"""Which files a run checks: walk the given paths, honour excludes and .gitignore.

Excludes match a path's name or its path relative to the project root (glob syntax), as in
ruff. Files named on the command line are always checked unless `force_exclude` is set, which
is what pre-commit needs since it passes every staged file by name.
"""
from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from gradscan.config import Settings

# pathspec is imported only when a .gitignore is found: its import costs about a tenth of a
# second, a third of gradscan's own start-up on a pre-commit call.

SUFFIXES = (".py", ".pyi", ".ipynb")


def display_path(path: Path) -> str:
    """Relative to the current directory when under it, as flake8 and ruff print it. A symlink
    keeps its own name (resolving it would print its target's absolute path)."""
    cwd = Path.cwd()
    for candidate, base in ((Path(os.path.abspath(path)), cwd), (path.resolve(), cwd.resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            pass
    return str(path)


def _normalize(pattern: str) -> Tuple[str, bool]:
    """(pattern, anchored): a pattern holding a slash (other than a trailing one) is a path
    relative to the project root; one without is a file or folder name matched anywhere."""
    pattern = pattern.strip()
    anchored = pattern.startswith(("./", "/"))
    while pattern.startswith("./"):
        pattern = pattern[2:]
    pattern = pattern.rstrip("/") or "/"
    return pattern, anchored or "/" in pattern


class _Excluder:
    def __init__(self, settings: Settings) -> None:
        # (pattern, anchored), as in ruff: "gen" or "*_pb2.py" match a name anywhere in the tree;
        # "src/gen", "./gen" or "gen/*.py" are paths relative to the project root.
        self.patterns = [_normalize(p) for p in (*settings.exclude, *settings.extend_exclude) if p.strip() not in ("", ".", "./")]
        self.root = settings.root.resolve()
        self.gitignore = settings.respect_gitignore
        self._specs: Dict[Path, Optional["pathspec.PathSpec"]] = {}
        self._chains: Dict[Path, List[Tuple[Path, "pathspec.PathSpec"]]] = {}
        # Name patterns as one regular expression (what fnmatch.fnmatch does, pattern by pattern).
        names = [os.path.normcase(pat) for pat, anchored in self.patterns if not anchored]
        self._names = re.compile("|".join(f"(?:{fnmatch.translate(n)})" for n in names)) if names else None
        self._anchored = [pat for pat, anchored in self.patterns if anchored]

    def excluded(self, path: Path, is_dir: bool) -> bool:
        if self._names is not None and self._names.match(os.path.normcase(path.name)):
            return True
        if self._anchored:
            try:
                rel = path.relative_to(self.root).as_posix()
            except ValueError:
                rel = path.as_posix()
            for pat in self._anchored:
                if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(path.as_posix(), pat):
                    return True
        if is_dir and (path / "pyvenv.cfg").exists():
            return True
        return self.gitignore and self._git_ignored(path, is_dir)

    def excluded_parent(self, path: Path) -> bool:
        """Whether a folder between the project root and `path` is excluded."""
        for folder in path.parents:
            if folder == self.root or self.root not in folder.parents:
                return False
            if self.excluded(folder, True):
                return True
        return False

    def _git_ignored(self, path: Path, is_dir: bool) -> bool:
        for spec_dir, spec in self._chain(path.parent):
            rel = path.relative_to(spec_dir).as_posix() + ("/" if is_dir else "")
            if spec.match_file(rel):
                return True
        return False

    def _chain(self, folder: Path) -> List[Tuple[Path, "pathspec.PathSpec"]]:
        """The .gitignore files that apply in `folder`: its own and its parents' up to the
        repository's top (the folder holding .git), nearest first. Once per folder."""
        chain = self._chains.get(folder)
        if chain is None:
            spec = self._spec(folder)
            own = [(folder, spec)] if spec is not None else []
            if (folder / ".git").exists() or folder.parent == folder:
                chain = own
            else:
                chain = own + self._chain(folder.parent)
            self._chains[folder] = chain
        return chain

    def _spec(self, folder: Path) -> Optional["pathspec.PathSpec"]:
        if folder not in self._specs:
            spec = None
            ignore = folder / ".gitignore"
            if ignore.is_file():
                try:
                    import pathspec

                    lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except ImportError:
                    _warn_no_pathspec()
                    spec = None
                except (OSError, ValueError):
                    spec = None
            self._specs[folder] = spec
        return self._specs[folder]


_WARNED: List[str] = []


def _warn_no_pathspec() -> None:
    """gradscan run without its `pathspec` dependency (not installed with pip): the scan goes on
    with the excludes alone, and says once why ignored files may be checked."""
    if not _WARNED:
        import sys

        _WARNED.append("pathspec")
        print("gradscan: warning: the pathspec package is not installed, so .gitignore files are not read "
              "(`pip install pathspec`, or install gradscan with pip)", file=sys.stderr)


def is_excluded(path: Path, settings: Settings) -> bool:
    """Whether the excludes (or .gitignore) exclude this file or a folder above it: what
    `--force-exclude` applies to a file named explicitly or to standard input's file name."""
    absolute = path.resolve()
    excluder = _Excluder(settings)
    return excluder.excluded(absolute, absolute.is_dir()) or excluder.excluded_parent(absolute)


def discover(paths: List[str], settings: Settings) -> Iterator[Tuple[Path, str]]:
    """(absolute file, display path) for every file to check, in a stable order."""
    excluder = _Excluder(settings)
    seen = set()
    for given in paths:
        p = Path(given)
        absolute = p.resolve() if p.exists() else p.absolute()
        if p.is_dir():
            if settings.force_exclude and excluder.excluded(absolute, True):
                continue
            for file in _walk(absolute, excluder):
                if file not in seen:
                    seen.add(file)
                    yield file, display_path(file)
        else:
            if settings.force_exclude and (excluder.excluded(absolute, False) or excluder.excluded_parent(absolute)):
                continue
            if absolute not in seen:
                seen.add(absolute)
                yield absolute, display_path(p) if p.is_absolute() else p.as_posix()


def _walk(top: Path, excluder: _Excluder) -> Iterator[Path]:
    for folder, dirs, files in os.walk(top):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if not excluder.excluded(base / d, True))
        for name in sorted(files):
            if name.endswith(SUFFIXES) and not excluder.excluded(base / name, False):
                yield base / name
