"""Checking many files: discovery, the project index, the results cache, worker processes, and
the order of results.

A run (1) discovers the files, (2) builds (or loads) the class index of the projects they belong
to, (3) answers from the results cache every file whose content, settings and used index entries
did not change (`gradscan.cache`), and (4) checks the rest, in worker processes when there is
enough work to pay for them (`--jobs`, default: the number of CPUs). Workers read their files
themselves and write their cache entries themselves; the parent holds only the file list, the
index and the findings, so memory does not grow with the tree beyond those.
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from gradscan.config import Settings
from gradscan.files.discovery import SUFFIXES, _Excluder, _walk, discover
from gradscan.findings import Finding
from gradscan.semantics.project import build_index, project_root

# Workers pay off when the files to check hold more than this many bytes (about 6,000 lines,
# half a second of parsing): forking is cheap, but each worker then pays its own warm-up, and a
# pre-commit call on a few files is faster in one process.
PARALLEL_MIN_BYTES = 256 * 1024
# Work is handed out in batches of at least this many bytes (fewer round trips), largest first.
BATCH_BYTES = 64 * 1024
# How often the parent looks at its workers while it waits for them (seconds).
POLL_SECONDS = 0.25
# A worker stuck on one file (in native code, or in a loop without a budget tick) is stopped:
# before the file's budget is set (reading, parsing) after this long...
BEFORE_BUDGET_SECONDS = 120.0
# ...and after it, once this much past its deadline (or half its budget, if longer).
PAST_DEADLINE_SECONDS = 10.0


@dataclass
class RunResult:
    findings: List[Finding] = field(default_factory=list)
    files: int = 0
    cached: int = 0  # answered from the results cache
    checked: int = 0  # checked in this run
    workers: int = 0  # processes used for checking (0: this one)
    done: int = 0  # files finished so far, for `progress`
    progress: Optional[Callable[[int, int], None]] = field(default=None, repr=False)  # (done, total)

    def advance(self, files: int) -> None:
        self.done += files
        if self.progress is not None:
            self.progress(self.done, self.files)


def with_declared_keras(settings: Settings, roots: List[Path]) -> Settings:
    """The settings with the Keras each project declares, unless the configuration chose one."""
    if settings.keras:
        return settings
    from gradscan.files.dependencies import declared_keras

    found = []
    for root in roots:
        got = declared_keras(root)
        if got is not None:
            found.append((str(root), got[0], got[1]))
    return replace(settings, declared_keras=tuple(found)) if found else settings


def project_roots(paths: List[str]) -> List[Path]:
    """The projects the given paths belong to: the folder holding pyproject.toml, setup.py,
    setup.cfg or .git, else the folder given (or a given file's folder). A root inside another
    is dropped, so each file has one set of module names whatever the arguments' order."""
    roots = set()
    for given in paths:
        p = Path(given).resolve()
        roots.add(project_root(p) or (p if p.is_dir() else p.parent))
    # each root's ancestors looked up in the set: linear in the paths (pre-commit passes many)
    return sorted(r for r in roots if not any(parent in roots for parent in r.parents))


def loose_folders(path: Path) -> Optional[List[Path]]:
    """For a file outside any project (no pyproject.toml, setup.py, setup.cfg or .git above it),
    the only folders its index reads, each without its subfolders: the file's own folder and the
    package folders of its `__init__.py` chain. None for a folder or a file inside a project
    (whose whole project is indexed). `gradscan model.py` run from a home folder must not read
    every file below it."""
    if path.is_dir() or project_root(path) is not None:
        return None
    folder = path.parent
    folders = [folder]
    while (folder / "__init__.py").is_file() and (folder.parent / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
        folders.append(folder)
    return folders


def describe_index(paths: List[str]) -> str:
    """What the index of a run on `paths` reads, in words (for `--verbose`)."""
    parts = []
    for root in project_roots(paths):
        if project_root(root) == root:
            parts.append(f"project root {root}")
        else:
            parts.append(f"{root} (no project marker above it: not a project)")
    loose = sorted({f for given in paths for f in (loose_folders(Path(given).resolve()) or [])})
    text = "; ".join(parts)
    if loose:
        text += "; index limited to the folder" + ("s " if len(loose) > 1 else " ") + ", ".join(map(str, loose)) + \
                " (without subfolders)"
    return text


def _cache_dir(roots: List[Path], use_cache: bool) -> Optional[Path]:
    if not use_cache or not roots:
        return None
    from gradscan.cache import cache_folder

    return cache_folder(roots[0])


def index_for(files: List[Tuple[Path, str]], paths: List[str], settings: Settings, use_cache: bool = True,
              cache_dir: Optional[Path] = None, jobs: int = 1):
    """The class index of every project the checked files belong to (whole projects, so that a
    verdict does not depend on how many files were passed). `files` may hold the files already
    discovered under those roots: a root given as a path is then not walked a second time."""
    roots = project_roots(paths)
    given_dirs = {Path(p).resolve() for p in paths if Path(p).is_dir()}
    # Folders read whole (projects, folders given), and the folders of files outside any
    # project, read without their subfolders (see `loose_folders`).
    whole = set()
    loose = set()
    for given in paths:
        p = Path(given).resolve()
        folders = loose_folders(p)
        if folders is None:
            whole.add(project_root(p) or (p if p.is_dir() else p.parent))
        else:
            loose.update(folders)
    whole = {w for w in whole if not any(o != w and o in w.parents for o in whole)}
    excluder = _Excluder(settings)
    index_files: List[Path] = []
    for root in sorted(whole):
        if root in given_dirs and files:
            # Discovery walked this very folder with the same excludes.
            prefix = str(root).rstrip(os.sep) + os.sep
            index_files.extend(f for f, _ in files if f.suffix == ".py" and str(f).startswith(prefix))
        else:
            index_files.extend(f for f in _walk(root, excluder) if f.suffix == ".py")
    for folder in sorted(loose):
        if any(w == folder or w in folder.parents for w in whole):
            continue  # read whole already
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            file = folder / name
            if name.endswith(".py") and not excluder.excluded(file, False) and file.is_file():
                index_files.append(file)

    prefixes = [(str(r).rstrip(os.sep) + os.sep, r) for r in roots]

    def root_of(file: Path) -> Path:
        text = str(file)
        for prefix, r in prefixes:
            if text.startswith(prefix):
                return r
        return file.parent

    if cache_dir is None:
        cache_dir = _cache_dir(roots, use_cache)
    return build_index(index_files, root_of, cache_dir, map_fn=_index_map(jobs))


INDEX_PARALLEL_MIN_FILES = 64  # summaries to compute before workers pay off (an `ast.parse` each)


def _index_map(jobs: int):
    """How the index computes missing summaries: in worker processes when there are many."""

    def map_fn(fn, items):
        items = list(items)
        if jobs > 1 and len(items) >= INDEX_PARALLEL_MIN_FILES:
            from concurrent.futures import ProcessPoolExecutor
            from functools import partial

            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context(), initializer=_quiet_signals)
            with _stopped_on_error(pool):
                return list(pool.map(partial(_without_gc, fn), items, chunksize=8))
        return [_without_gc(fn, item) for item in items]

    return map_fn


def _without_gc(fn, item):
    """`ast.parse` builds an acyclic tree: the cyclic collector only slows it down (by 10-30%)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return fn(item)
    finally:
        if enabled:
            gc.enable()


# ---- checking one file (in this process or a worker) ------------------------------------------
class _Checker:
    def __init__(self, settings: Settings, project, disable_noqa: bool, cache_dir: Optional[Path]) -> None:
        from gradscan.cache import ResultsCache, record_index

        self.settings = settings
        self.project = project
        self.disable_noqa = disable_noqa
        self.log = record_index(project) if cache_dir is not None else None
        self.store = ResultsCache(cache_dir, settings, disable_noqa, self.log) if cache_dir is not None else None

    def check(self, file: Path, display: str) -> List[Finding]:
        # libcst allocates a few hundred thousand objects per file and the model holds
        # reference cycles: rather than let the cyclic collector run every 700 allocations
        # while the tree is built (and promote it to older generations), pause it for the file
        # and collect its garbage once at the end (the youngest generation holds all of it).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._check(file, display)
        finally:
            if enabled:
                gc.enable()
                gc.collect(0)

    def _check(self, file: Path, display: str) -> List[Finding]:
        from gradscan.engine import check_bytes, check_file

        try:
            data = file.read_bytes()
        except OSError:
            return check_file(file, display, self.settings, self.project, self.disable_noqa)  # reports it
        accepted = self.project is not None and self.project.accepted_by_python(file, len(data))
        if self.store is None:
            return check_bytes(data, display, self.settings, self.project, self.disable_noqa, accepted)
        from gradscan.cache import content_hash

        if self.log is not None:
            self.log.reset()
        findings = check_bytes(data, display, self.settings, self.project, self.disable_noqa, accepted)
        self.store.store(file, display, content_hash(data), findings, dict(self.log.used) if self.log else {})
        return findings


_WORKER: Dict[str, object] = {}


def _quiet_signals() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops its workers), and a SIGTERM ends
    the worker at once, without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _init_worker(settings: Settings, project, disable_noqa: bool, cache_dir: Optional[Path], log_dir: str) -> None:
    from gradscan.semantics import budget

    _quiet_signals()
    _WORKER["checker"] = _Checker(settings, project, disable_noqa, cache_dir)
    _WORKER["log"] = os.path.join(log_dir, str(os.getpid()))
    open(_WORKER["log"], "w").close()  # the parent finds its workers' ids here
    budget.add_listener(_note_deadline)


def _note_deadline(seconds: float) -> None:
    """The file's deadline, for the parent's watchdog (the log already names the file)."""
    with open(_WORKER["log"], "a") as log:
        log.write(f"\t{time.time() + seconds:.3f}")


def _work(batch: List[Tuple[Path, str]]) -> List[Finding]:
    checker = _WORKER["checker"]
    out: List[Finding] = []
    for file, display in batch:
        # Which file this worker is in and since when, so that a worker killed by a crash in
        # native code (libcst's parser) can be traced to its file (the one left in its log), and
        # one stuck on a file be stopped: "path<TAB>started[<TAB>deadline]", wall-clock times.
        with open(_WORKER["log"], "w") as log:
            log.write(f"{file}\t{time.time():.3f}")
        out.extend(checker.check(file, display))
    with open(_WORKER["log"], "w"):
        pass
    return out


def _batches(items: List[Tuple[Path, str, int]]) -> List[List[Tuple[Path, str]]]:
    """Largest files first (no long tail at the end), small ones grouped."""
    items = sorted(items, key=lambda t: -t[2])
    out: List[List[Tuple[Path, str]]] = []
    batch: List[Tuple[Path, str]] = []
    size = 0
    for file, display, nbytes in items:
        batch.append((file, display))
        size += nbytes
        if size >= BATCH_BYTES:
            out.append(batch)
            batch, size = [], 0
    if batch:
        out.append(batch)
    return out


def _pool_context():
    """fork where it is safe (Linux): workers inherit the loaded rules and the project index
    instead of importing and unpickling them."""
    import multiprocessing

    # A process that has loaded a framework (a test session, a notebook using the library) runs
    # native threads that fork would copy mid-lock: start workers from a clean server instead.
    threaded = any(name in sys.modules for name in ("jax", "tensorflow", "torch"))
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods() and not threaded:
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return None


def run(paths: List[str], settings: Settings, jobs: Optional[int] = None, disable_noqa: bool = False, use_cache: bool = True,
        progress: Optional[Callable[[int, int], None]] = None) -> RunResult:
    files = list(discover(paths, settings))
    result = RunResult(files=len(files), progress=progress)
    if not files:
        return result
    roots = project_roots(paths)
    settings = with_declared_keras(settings, roots)
    cache_dir = _cache_dir(roots, use_cache)
    jobs = jobs or os.cpu_count() or 1
    project = index_for(files, paths, settings, use_cache, cache_dir=cache_dir, jobs=jobs)
    checker = _Checker(settings, project, disable_noqa, cache_dir)
    # The index and the loaded rules live as long as the run: keep the collector from
    # traversing them again and again (and forked workers from copying their pages to do so).
    gc.freeze()
    try:
        _check_all(result, files, checker, settings, project, disable_noqa, cache_dir, jobs)
    finally:
        gc.unfreeze()  # a long-lived caller (tests, an editor) gets its collector back
    result.findings.sort(key=Finding.sort_key)
    return result


def _check_all(result: RunResult, files, checker: "_Checker", settings: Settings, project, disable_noqa: bool,
               cache_dir: Optional[Path], jobs: int) -> None:
    todo: List[Tuple[Path, str, int]] = []
    if checker.store is not None:
        from gradscan.cache import content_hash

        for file, display in files:
            try:
                data = file.read_bytes()
            except OSError:
                todo.append((file, display, 0))
                continue
            hit = checker.store.lookup(file, display, content_hash(data))
            if hit is None:
                todo.append((file, display, len(data)))
            else:
                result.findings.extend(hit)
                result.cached += 1
    else:
        for file, display in files:
            try:
                size = file.stat().st_size
            except OSError:
                size = 0
            todo.append((file, display, size))
    result.checked = len(todo)
    result.advance(result.cached)

    work = sum(t[2] for t in todo)
    workers = min(jobs, len(todo))
    if workers > 1 and work >= PARALLEL_MIN_BYTES:
        result.workers = workers
        _check_in_workers(result, todo, workers, (settings, project, disable_noqa, cache_dir), checker)
    else:
        for file, display, _ in todo:
            result.findings.extend(checker.check(file, display))
            result.advance(1)


def _check_in_workers(result: RunResult, todo: List[Tuple[Path, str, int]], workers: int, init: tuple,
                      checker: "_Checker") -> None:
    """Check `todo` in a pool of workers. A worker that dies (a crash in native code, the
    out-of-memory killer) takes its pool down: each file a worker had in hand is checked again
    alone, a file that kills its worker again is reported as GS001, and a new pool checks what
    was left, so one bad file never costs the run. A worker stuck on one file well past its
    time budget is stopped, and its file reported as GS002 (not checked again)."""
    import tempfile
    from concurrent.futures.process import BrokenProcessPool

    seconds = init[0].file_budget
    displays = {file: display for file, display, _ in todo}
    left = todo
    with tempfile.TemporaryDirectory(prefix="gradscan-workers-") as log_dir:
        while left:
            batches = _batches(left)
            done: set = set()
            stopped: Dict[Path, str] = {}
            try:
                with _stopped_on_error(_pool(min(workers, len(left)), init, log_dir)) as pool:
                    futures = {pool.submit(_work, batch): i for i, batch in enumerate(batches)}
                    for future in _as_done(futures, log_dir, seconds, stopped, displays):
                        i = futures[future]
                        try:
                            result.findings.extend(future.result())
                            done.add(i)
                            result.advance(len(batches[i]))
                        except BrokenProcessPool:
                            pass
            except BrokenProcessPool:
                pass
            result.findings.extend(_stopped_finding(display, seconds) for display in stopped.values())
            left = [item for i, batch in enumerate(batches) if i not in done for item in batch if item[0] not in stopped]
            if not left:
                return
            in_hand = _in_hand(log_dir)
            if not in_hand and not stopped:  # died between files: finish here rather than risk a loop
                for file, display in left:
                    result.findings.extend(checker.check(file, display))
                return
            for file, display in [item for item in left if item[0] in in_hand]:
                alone: Dict[Path, str] = {}
                try:
                    with _stopped_on_error(_pool(1, init, log_dir)) as pool:
                        future = pool.submit(_work, [(file, display)])
                        for _ in _as_done({future: 0}, log_dir, seconds, alone, displays):
                            result.findings.extend(future.result())
                except BrokenProcessPool:
                    if alone:
                        result.findings.append(_stopped_finding(display, seconds))
                    else:
                        result.findings.append(Finding(display, 1, 1, "GS001", "cannot check file: the process checking it "
                                                       "crashed (a fault in the parser's native code)", 1, 1))
                _in_hand(log_dir)
            left = [(f, d, 0) for f, d in left if f not in in_hand]


def _stopped_finding(display: str, seconds: float) -> Finding:
    return Finding(display, 1, 1, "GS002", f"analysis cut short: its process was stopped far over the time budget "
                   f"({seconds:g} s); no rule finished", 1, 1)


def _as_done(futures, log_dir: str, seconds: float, stopped: Dict[Path, str], displays: Dict[Path, str]):
    """The futures as they finish; meanwhile, a worker far past its file's deadline is killed
    (its pool then breaks: the caller checks again what was left) and its file noted in
    `stopped` (file -> display path)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending = set(futures)
    looked = time.monotonic()
    while pending:
        finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        yield from finished
        if not seconds or seconds <= 0 or time.monotonic() - looked < POLL_SECONDS:
            continue
        looked = time.monotonic()
        for pid, file in _overdue(log_dir, seconds):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
            try:
                os.remove(os.path.join(log_dir, str(pid)))  # not "in hand": it is not checked again
            except OSError:
                pass
            stopped[file] = displays.get(file, str(file))


def _overdue(log_dir: str, seconds: float) -> List[Tuple[int, Path]]:
    """(worker id, file) of every worker that has been on its file too long."""
    now = time.time()
    out = []
    for name in os.listdir(log_dir):
        try:
            with open(os.path.join(log_dir, name)) as log:
                parts = log.read().split("\t")
            started = float(parts[1])
            deadline = float(parts[2]) if len(parts) > 2 else None
        except (OSError, ValueError, IndexError):
            continue  # idle, or between two writes
        if deadline is None:
            late = now > started + max(BEFORE_BUDGET_SECONDS, 12 * seconds)
        else:
            late = now > deadline + max(PAST_DEADLINE_SECONDS, (deadline - started) / 2)
        if late and name.isdigit():
            out.append((int(name), Path(parts[0])))
    return out


def _pool(workers: int, init: tuple, log_dir: str):
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_init_worker,
                               initargs=(*init, log_dir))


@contextlib.contextmanager
def _stopped_on_error(pool):
    """Use `pool`; on an interrupt (Ctrl-C, SIGTERM) or any error, kill its workers at once
    rather than wait for them to finish their work (seconds, or minutes on a large file)."""
    try:
        yield pool
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            try:
                process.kill()
            except (OSError, AttributeError, ValueError):
                pass
        for process in processes:  # reaped, not left as zombies
            try:
                process.join(1)
            except (OSError, AttributeError, ValueError, AssertionError):
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _in_hand(log_dir: str) -> set:
    """The files workers were checking when their pool went down (their logs still name them)."""
    out = set()
    for name in os.listdir(log_dir):
        path = os.path.join(log_dir, name)
        try:
            with open(path) as log:
                text = log.read()
            os.remove(path)
        except OSError:
            continue
        if text:
            out.add(Path(text.split("\t")[0]))
    return out


__all__ = ["run", "RunResult", "SUFFIXES", "index_for", "project_roots"]
