"""The results cache: a file's findings, reused while nothing they depend on has changed.

A file's verdict depends on
- its content (hashed: an edit re-checks, a `touch` does not),
- the checker: gradscan's version and the source of the installed package (so that a rule
  edited in a development checkout is never answered from the cache), libcst's version and
  Python's minor version,
- the settings (`Settings.fingerprint()`: the enabled rules, per-file-ignores and the rule
  options), the project root they are relative to, `--disable-noqa`, and the path it is
  reported and matched under,
- and the entries of the project class index it used. These are recorded while the file is
  checked: every module summary the semantic model looked up (a base class in another file,
  each step of a re-export chain, the file's own module names, and also lookups that found
  nothing, so that adding a module re-checks the files that looked for it). Editing
  `models/base.py` therefore re-checks the files whose classes derive from a class there, and
  no others. A check that iterates over the whole index depends on all of it.

Entries live in `<project root>/.gradscan_cache/results/` (or a user cache folder when the
project is not writable or the files checked are in no project, or `$GRADSCAN_CACHE_DIR`), one small JSON file per checked file,
named by a hash of the path and the settings; its content hash and dependencies are checked on
read. Writes go to a temporary file renamed into place, so concurrent runs (pre-commit and an
editor) never see half an entry: the last writer wins, and both wrote a correct entry.
Results with an internal error (GS000) are not cached: the next run retries them.
"""
from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from gradscan import __version__
from gradscan.findings import Finding, Fix

CACHE_VERSION = 1
CACHE_FOLDER = ".gradscan_cache"
CACHE_ENV = "GRADSCAN_CACHE_DIR"

_GITIGNORE = "# Created by gradscan: this folder is a cache.\n*\n"
_CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by gradscan.\n"


try:  # hashlib's own import (OpenSSL) costs more than the rest of this module: a pre-commit call pays it
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover
    from hashlib import blake2b as _blake2b


def _digest(data: bytes) -> str:
    return _blake2b(data, digest_size=16).hexdigest()


def content_hash(data: bytes) -> str:
    return _digest(data)


# ---- where -----------------------------------------------------------------------------------
def _prepare(folder: Path) -> bool:
    """Create the cache folder (with a .gitignore and a CACHEDIR.TAG); False if not writable."""
    try:
        fresh = not folder.is_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            return False
        if fresh or not (folder / ".gitignore").exists():
            _write_atomic(folder / ".gitignore", _GITIGNORE)
            _write_atomic(folder / "CACHEDIR.TAG", _CACHEDIR_TAG)
        return True
    except OSError:
        return False


def user_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "gradscan"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "gradscan"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "gradscan" / "Cache"
    return Path.home() / ".cache" / "gradscan"


def cache_folder(root: Path) -> Optional[Path]:
    """The cache folder of the project at `root`: `$GRADSCAN_CACHE_DIR/<project>` when set, else
    `<root>/.gradscan_cache`, else (root not writable, or not a project: no pyproject.toml,
    setup.py, setup.cfg or .git there or above) a per-folder folder in the user cache. A run on a
    loose file never leaves a `.gradscan_cache` in a scratch or home folder."""
    from gradscan.semantics.project import project_root

    slug = _digest(str(root).encode("utf-8"))[:16]
    env = os.environ.get(CACHE_ENV)
    if env:
        folder = Path(env) / slug
        return folder if _prepare(folder) else None
    folder = root / CACHE_FOLDER
    if project_root(root) is not None and _prepare(folder):
        return folder
    try:
        folder = user_cache_root() / slug
    except (RuntimeError, KeyError):  # no home folder
        return None
    return folder if _prepare(folder) else None


# ---- what the checker is ---------------------------------------------------------------------
_TOOL: Optional[str] = None


def tool_fingerprint() -> str:
    """gradscan's version and the size and mtime of every module of the installed package,
    libcst's version and Python's: a result computed by different code is never reused."""
    global _TOOL
    if _TOOL is None:
        package = Path(__file__).resolve().parent
        stamps: List[str] = [__version__, f"{sys.version_info[0]}.{sys.version_info[1]}", str(CACHE_VERSION)]
        try:
            import libcst

            stamps.append(getattr(libcst, "__version__", ""))
        except ImportError:  # pragma: no cover
            pass
        for folder, dirs, names in os.walk(package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    try:
                        st = os.stat(os.path.join(folder, name))
                    except OSError:
                        continue
                    stamps.append(f"{os.path.relpath(os.path.join(folder, name), package)}:{st.st_size}:{st.st_mtime_ns}")
        _TOOL = _digest("\n".join(stamps).encode("utf-8"))
    return _TOOL


# ---- what a verdict used of the project index --------------------------------------------------
_MISSING = object()


class _Recording(dict):
    """A dict of the project index that notes which keys were read (and what they held)."""

    __slots__ = ("_log", "_prefix")

    def __init__(self, data: dict, log: "DependencyLog", prefix: str) -> None:
        super().__init__(data)
        self._log = log
        self._prefix = prefix

    def get(self, key, default=None):
        value = dict.get(self, key, _MISSING)
        self._log.note(self._prefix, key, value)
        return default if value is _MISSING else value

    def __getitem__(self, key):
        value = dict.get(self, key, _MISSING)
        self._log.note(self._prefix, key, value)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key) -> bool:
        value = dict.get(self, key, _MISSING)
        self._log.note(self._prefix, key, value)
        return value is not _MISSING

    def _everything(self):
        self._log.note_all(self._prefix)

    def __iter__(self):
        self._everything()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._everything()
        return dict.__len__(self)

    def keys(self):
        self._everything()
        return dict.keys(self)

    def values(self):
        self._everything()
        return dict.values(self)

    def items(self):
        self._everything()
        return dict.items(self)

    def __reduce__(self):  # pickled (to a spawned worker) as a plain dict
        return (dict, (dict(self),))


def _value_digest(value: Any) -> str:
    if value is _MISSING:
        return "-"
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return _digest(text.encode("utf-8"))


class DependencyLog:
    """The project-index entries read while checking one file, with a digest of each."""

    def __init__(self) -> None:
        self.used: Dict[str, str] = {}
        self._digests: Dict[Tuple[str, Any], str] = {}  # (table, key) -> digest, per process
        self._tables: Dict[str, dict] = {}
        self._whole: Dict[str, str] = {}
        self._queries: Dict[str, Any] = {}  # name -> the index's own (unrecorded) method
        self.paused = 0

    def reset(self) -> None:
        self.used = {}

    def note_query(self, method: str, args: tuple, result) -> None:
        """A whole-index question (`subclasses_reads(X)`): the verdict depends on its answer,
        not on every entry the answer was computed from."""
        if self.paused:  # asked while answering another query, whose answer is recorded
            return
        name = f"call:{method}:{json.dumps(list(args))}"
        if name not in self.used:
            self.used[name] = _value_digest(_plain(result))

    def note(self, prefix: str, key, value) -> None:
        if self.paused:
            return
        name = f"{prefix}:{key}"
        if name in self.used:
            return
        memo = (prefix, key)
        digest = self._digests.get(memo)
        if digest is None:
            digest = self._digests[memo] = _value_digest(value)
        self.used[name] = digest

    def note_all(self, prefix: str) -> None:
        if not self.paused:
            self.used[f"{prefix}:*"] = self.whole(prefix)

    def whole(self, prefix: str) -> str:
        digest = self._whole.get(prefix)
        if digest is None:
            table = self._tables.get(prefix, {})
            parts = []
            for key in sorted(dict.keys(table), key=str):
                memo = (prefix, key)
                d = self._digests.get(memo)
                if d is None:
                    d = self._digests[memo] = _value_digest(dict.get(table, key))
                parts.append(f"{key}={d}")
            digest = self._whole[prefix] = _digest("\n".join(parts).encode("utf-8"))
        return digest

    def current(self, name: str) -> str:
        """The digest an entry named `table:key` (or `table:*`) has in the index now."""
        prefix, _, key = name.partition(":")
        if prefix == "call":
            digest = self._digests.get(("call", key))
            if digest is None:
                method, _, args = key.partition(":")
                function = self._queries.get(method)
                if function is None:
                    return "?"
                self.paused += 1
                try:
                    result = function(*json.loads(args))
                finally:
                    self.paused -= 1
                digest = self._digests[("call", key)] = _value_digest(_plain(result))
            return digest
        if key == "*":
            return self.whole(prefix)
        memo = (prefix, key)
        digest = self._digests.get(memo)
        if digest is None:
            table = self._tables.get(prefix)
            value = dict.get(table, key, _MISSING) if table is not None else _MISSING
            digest = self._digests[memo] = _value_digest(value)
        return digest


def _plain(value):
    """A set as a sorted list, so that equal answers digest equally."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return value


# Index methods whose answer depends on the whole project (every class deriving from X) or is
# kept for the run (a class's bases): a file's verdict records the answer itself, so that
# editing an unrelated file does not re-check it, and a kept answer is recorded for every file.
QUERIES = ("subclasses_reads", "bases", "trained_functions", "function_cuts", "linked_context")


class _Query:
    """An index method that records its answer in the current file's dependency log."""

    def __init__(self, method, name: str, log: "DependencyLog") -> None:
        self.method = method
        self.name = name
        self.log = log

    def __call__(self, *args):
        log = self.log
        log.paused += 1
        try:
            result = self.method(*args)
        finally:
            log.paused -= 1
        log.note_query(self.name, args, result)
        return result

    def __reduce__(self):  # pickled (to a spawned worker) as the plain method
        return (getattr, (self.method.__self__, self.name))


def record_index(project) -> Optional[DependencyLog]:
    """Make the project index note what is read from it (its public dict attributes: module
    summaries, file -> module names; and the answers of its whole-index queries). Returns the
    log, or None without an index."""
    if project is None:
        return None
    log = DependencyLog()
    for name in QUERIES:
        current = project.__dict__.get(name)
        if isinstance(current, _Query):  # a worker forked from a recording parent
            current.log = log
            log._queries[name] = current.method
        elif callable(getattr(project, name, None)):
            method = getattr(project, name)
            log._queries[name] = method
            setattr(project, name, _Query(method, name, log))
    for attr, value in list(vars(project).items()):
        if attr.startswith("_"):
            continue
        if isinstance(value, _Recording):  # a worker forked from a recording parent
            value._log = log
            log._tables[attr] = value
            continue
        if type(value) is not dict:
            continue
        wrapped = _Recording(value, log, attr)
        log._tables[attr] = wrapped
        setattr(project, attr, wrapped)
    return log


# ---- findings as JSON --------------------------------------------------------------------------
def _dump_finding(f: Finding) -> list:
    fix = None
    if f.fix is not None:
        fix = [f.fix.message, f.fix.replacement, f.fix.line, f.fix.col, f.fix.end_line, f.fix.end_col]
    return [f.path, f.line, f.col, f.code, f.message, f.end_line, f.end_col, f.cell, fix, f.detail]


def _load_finding(row: list) -> Finding:
    path, line, col, code, message, end_line, end_col, cell, fix, detail = row
    return Finding(path, line, col, code, message, end_line, end_col, cell, Fix(*fix) if fix else None, detail)


# ---- the store ---------------------------------------------------------------------------------
class ResultsCache:
    """Findings per (file, settings), valid while the content hash and dependencies match."""

    def __init__(self, folder: Path, settings, disable_noqa: bool, log: Optional[DependencyLog]) -> None:
        self.folder = folder / "results"
        self.log = log
        self.tool = tool_fingerprint()
        self.context = json.dumps([settings.fingerprint(), str(settings.root), bool(disable_noqa)])
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def _entry_path(self, file: Path, display: str) -> Path:
        key = _digest(json.dumps([str(file), display, self.context]).encode("utf-8"))
        return self.folder / key[:2] / f"{key}.json"

    def lookup(self, file: Path, display: str, digest: str) -> Optional[List[Finding]]:
        """The cached findings of `file` whose content hashes to `digest`, or None."""
        try:
            with open(self._entry_path(file, display), "rb") as handle:
                entry = json.loads(handle.read())
            if not isinstance(entry, dict) or entry.get("tool") != self.tool or entry.get("hash") != digest:
                raise ValueError("stale")
            deps = entry.get("deps") or {}
            if deps:
                if self.log is None:
                    raise ValueError("no index")
                for name, want in deps.items():
                    if self.log.current(name) != want:
                        raise ValueError("dependency changed")
            findings = [_load_finding(row) for row in entry["findings"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a damaged entry is a miss
            self.misses += 1
            return None
        self.hits += 1
        return findings

    def store(self, file: Path, display: str, digest: str, findings: Iterable[Finding], deps: Dict[str, str]) -> None:
        findings = list(findings)
        if any(f.code in ("GS000", "GS002") for f in findings):
            return  # an internal error or a cut-short analysis: retried next time rather than remembered
        entry = {"v": CACHE_VERSION, "tool": self.tool, "hash": digest, "deps": deps,
                 "findings": [_dump_finding(f) for f in findings]}
        path = self._entry_path(file, display)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        if _write_atomic(path, json.dumps(entry, separators=(",", ":"))):
            self.writes += 1


_SERIAL = itertools.count()


def _write_atomic(path: Path, text: str) -> bool:
    """Write a sibling temporary file (a name no other process uses), then rename it over
    `path`: readers see the old entry or the new one, never half of one."""
    tmp = None
    try:
        tmp = path.parent / f".tmp-{os.getpid()}-{next(_SERIAL)}-{os.urandom(4).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
        return True
    except BaseException as exc:  # also an interrupt: no temporary file is left behind
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if not isinstance(exc, OSError):
            raise
        return False
