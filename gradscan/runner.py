"""Checking many files: discovery, the project index, worker processes, and the order of results."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from gradscan.config import Settings
from gradscan.engine import check_file
from gradscan.files.discovery import SUFFIXES, _Excluder, _walk, discover
from gradscan.findings import Finding
from gradscan.semantics.project import build_index, project_root

PARALLEL_MIN_FILES = 24  # below this, starting workers costs more than it saves


@dataclass
class RunResult:
    findings: List[Finding] = field(default_factory=list)
    files: int = 0


def index_for(files: List[Tuple[Path, str]], paths: List[str], settings: Settings, use_cache: bool = True):
    """The class index of every project the checked files belong to (whole projects, so that a
    verdict does not depend on how many files were passed)."""
    roots = set()
    for given in paths:
        p = Path(given).resolve()
        roots.add(project_root(p) or (p if p.is_dir() else p.parent))
    # A root inside another (two folders given, no project marker) is walked once, as part of
    # the outer one, so that each file has one set of module names whatever the arguments' order.
    roots = {r for r in roots if not any(o != r and o in r.parents for o in roots)}
    excluder = _Excluder(settings)
    index_files = []
    for root in sorted(roots):
        index_files.extend(_walk(root, excluder))
    index_files = [f for f in index_files if f.suffix == ".py"]

    def root_of(file: Path) -> Path:
        for r in roots:
            if r in file.parents:
                return r
        return file.parent

    cache_dir = (min(roots) / ".gradscan_cache") if (use_cache and roots) else None
    return build_index(index_files, root_of, cache_dir)


_WORKER_STATE = {}


def _init_worker(settings: Settings, project, disable_noqa: bool) -> None:
    _WORKER_STATE["args"] = (settings, project, disable_noqa)


def _work(item: Tuple[Path, str]) -> List[Finding]:
    settings, project, disable_noqa = _WORKER_STATE["args"]
    return check_file(item[0], item[1], settings, project, disable_noqa)


def run(paths: List[str], settings: Settings, jobs: Optional[int] = None, disable_noqa: bool = False, use_cache: bool = True) -> RunResult:
    files = list(discover(paths, settings))
    result = RunResult(files=len(files))
    if not files:
        return result
    project = index_for(files, paths, settings, use_cache)
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(files) >= PARALLEL_MIN_FILES:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(settings, project, disable_noqa)) as pool:
            for found in pool.map(_work, files, chunksize=4):
                result.findings.extend(found)
    else:
        for file, display in files:
            result.findings.extend(check_file(file, display, settings, project, disable_noqa))
    result.findings.sort(key=Finding.sort_key)
    return result


__all__ = ["run", "RunResult", "SUFFIXES"]
