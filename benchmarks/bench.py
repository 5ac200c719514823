"""Measure gradscan's speed against libcst's own parse time and against peers, in one run.

Everything is measured in the same run, on the same files, as a subprocess timed with
`os.wait4` (wall clock, CPU time of the process and the workers it waited for, peak resident
memory of the largest process):

- the floor: libcst's `parse_module` alone over every file, in the same number of processes
  as gradscan uses (`--jobs`, default: the number of CPUs);
- gradscan cold: `--no-cache` (no results cache, no cached project index);
- gradscan with an empty cache (the first run, which writes the cache), then warm (the
  same tree again, unchanged);
- one file as pre-commit runs it: `gradscan FILE` from its project's folder, start-up
  included, the project index cached, the file itself edited just before (so its result is not
  cached, as for any file pre-commit passes), against `python -c 'import libcst'`; the median
  of several alternating runs;
- peers, each in its own virtual environment (created under `--venvs` on first use with pip):
  TorchFix 0.7.0 `--select ALL`, Fixit 2 with its default rules, and ruff with its default
  rules; each with the same number of processes where it has such an option.

The corpus comes from `benchmarks/corpus.py` (pinned releases of nine ML libraries). The
selected files are copied into a scratch folder (each package a project of its own, with a
`pyproject.toml`), so no tool writes into the shared corpus, and gradscan is run from a
snapshot of its source taken at the start, so edits made to the working tree during a long
run cannot change what is measured.

    python benchmarks/bench.py                        # everything, writes docs/performance.md
    python benchmarks/bench.py --only timm --sample 100 --no-peers
    python benchmarks/bench.py --only timm,flax --repeat 3

Only the standard library is needed to run it (peers are installed with pip into their own
virtual environments).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

PEERS = {
    "torchfix": {"pip": ["torchfix==0.7.0"], "label": "TorchFix 0.7.0 --select ALL"},
    "fixit": {"pip": ["fixit==2.2.1"], "label": "Fixit 2.2.1 default rules"},
    "ruff": {"pip": ["ruff==0.17.6"], "label": "ruff 0.17.6 default rules"},
}

FLOOR_SCRIPT = r"""
import gc, os, sys
from multiprocessing import get_context
import libcst

PAUSE_GC = len(sys.argv) > 3 and sys.argv[3] == "nogc"

def parse(path):
    with open(path, "rb") as handle:
        data = handle.read()
    if PAUSE_GC:
        gc.disable()
    try:
        libcst.parse_module(data.decode("utf-8"))
    except Exception:
        pass
    if PAUSE_GC:
        gc.enable()
        gc.collect(0)
    return 0

if __name__ == "__main__":
    files = [line for line in open(sys.argv[1], encoding="utf-8").read().splitlines() if line]
    jobs = int(sys.argv[2])
    if jobs == 1:
        for f in files:
            parse(f)
    else:
        files.sort(key=lambda f: -os.path.getsize(f))  # as gradscan hands them out: largest first
        with get_context("fork").Pool(jobs) as pool:
            for _ in pool.imap_unordered(parse, files, chunksize=1):
                pass
"""


@dataclass
class Measure:
    name: str
    wall: float
    cpu: float
    peak_mb: float
    files: int = 0
    lines: int = 0
    note: str = ""
    returncode: int = 0
    extra: Dict[str, float] = field(default_factory=dict)

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.wall if self.wall else 0.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(cmd: Sequence[str], cwd: Optional[Path] = None, env: Optional[dict] = None, timeout: Optional[float] = None,
          stdout_path: Optional[Path] = None) -> Tuple[float, float, float, int, bool]:
    """(wall s, CPU s of the process tree it waited for, peak RSS MB of its largest process,
    return code, timed out)."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
    timed_out = False
    deadline = start + timeout if timeout else None
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                timed_out = True
                _stop(proc.pid)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
    except BaseException:  # interrupted: do not leave the measured process group running
        _stop(proc.pid)
        raise
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdout_path:
        out.close()
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024.0, proc.returncode, timed_out


# ---- the scratch workspace ------------------------------------------------------------------
def _stop(pgid: int) -> None:
    try:
        os.killpg(pgid, 9)
    except OSError:
        pass


def select_files(only: Optional[str], sample: Optional[int]) -> Tuple[Path, Dict[str, List[Path]]]:
    root = corpus.ensure_corpus(only=only.split(",") if only else None)
    dirs = corpus.package_dirs(root)
    names = [n for n in dirs if not only or n in only.split(",")]
    chosen: Dict[str, List[Path]] = {}
    for name in names:
        chosen[name] = sorted(p for p in dirs[name].rglob("*.py") if p.is_file())
    if sample:
        chosen = spread(chosen, sample)
    return root, chosen


def build_workspace(corpus_root: Path, chosen: Dict[str, List[Path]], ws: Path) -> Tuple[Path, List[Path], int]:
    if ws.exists():
        shutil.rmtree(ws)
    files: List[Path] = []
    lines = 0
    dirs = corpus.package_dirs(corpus_root)
    for name, paths in chosen.items():
        src_root = dirs[name]
        dst_root = ws / src_root.name
        dst_root.mkdir(parents=True, exist_ok=True)
        (dst_root / "pyproject.toml").write_text(f'[project]\nname = "{name}-bench"\n')
        for p in paths:
            target = dst_root / p.relative_to(src_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = p.read_bytes()
            target.write_bytes(data)
            files.append(target)
            lines += data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return ws, files, lines


def snapshot_gradscan(work: Path) -> Path:
    """A copy of the working tree's `gradscan` package: what this run measures."""
    snap = work / "gradscan-src"
    if snap.exists():
        shutil.rmtree(snap)
    shutil.copytree(REPO / "gradscan", snap / "gradscan", ignore=shutil.ignore_patterns("__pycache__"))
    return snap


def compile_snapshot(snap: Path, python: str) -> None:
    """Byte-compile the snapshot, as pip does when it installs a wheel (PYTHONDONTWRITEBYTECODE
    would otherwise make every run compile gradscan's modules again, unlike libcst's)."""
    subprocess.run([python, "-m", "compileall", "-q", str(snap)], check=True)


def ensure_peer(name: str, venvs: Path) -> Optional[Path]:
    venv = venvs / name
    exe = venv / "bin" / name
    if exe.exists():
        return exe
    log(f"installing {' '.join(PEERS[name]['pip'])} into {venv}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PEERS[name]["pip"]], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        log(f"cannot install {name}: {exc}")
        return None
    return exe if exe.exists() else None


# ---- the measurements ---------------------------------------------------------------------------
def best_of(repeat: int, fn) -> Tuple[float, float, float, int, bool]:
    runs = [fn() for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def machine() -> Dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
    except OSError:
        pass
    return {
        "cpu": model or "unknown CPU",
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def libcst_version(python: str) -> str:
    try:
        return subprocess.run([python, "-c", "from importlib.metadata import version; print(version('libcst'))"],
                              capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def trigger_skips(snap: Path, listing: Path, select: Optional[str]) -> Tuple[int, int, int]:
    """How many files (and lines) contain none of the enabled rules' trigger tokens: gradscan
    does not parse them with libcst (only `ast.parse`, for syntax errors)."""
    code = r"""
import json, sys
from gradscan.config import Settings, validate_selector
from gradscan.rules import REGISTRY
select = sys.argv[2] or None
s = Settings(select=[validate_selector(x, "select") for x in select.split(",")] if select else None)
triggers = [REGISTRY[c].triggers for c in sorted(s.enabled_codes()) if not REGISTRY[c].engine]
skipped = lines = 0
for path in open(sys.argv[1]).read().splitlines():
    text = open(path, "rb").read().decode("utf-8", "replace")
    if not any((not t) or any(x in text for x in t) for t in triggers):
        skipped += 1
        lines += text.count("\n")
print(json.dumps([skipped, lines, len(triggers)]))
"""
    env = dict(os.environ, PYTHONPATH=str(snap))
    out = subprocess.run([sys.executable, "-c", code, str(listing), select or ""], capture_output=True, text=True, env=env)
    try:
        return tuple(json.loads(out.stdout))
    except ValueError:
        return (0, 0, 0)


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv: Optional[List[str]] = None) -> int:
    import signal

    signal.signal(signal.SIGTERM, _interrupted)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated corpus packages (default: all)")
    ap.add_argument("--sample", type=int, help="check only N files, spread evenly over the selection")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the floor, gradscan and peers")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (the fastest counts; the floor and the cold scan alternate)")
    ap.add_argument("--no-nogc", action="store_true", help="skip the floor with the collector paused")
    ap.add_argument("--select", help="gradscan --select (default: gradscan's default rules)")
    ap.add_argument("--no-peers", action="store_true", help="skip TorchFix, Fixit and ruff")
    ap.add_argument("--peers", default="torchfix,fixit,ruff", help="which peers to run")
    ap.add_argument("--peer-sample", type=int,
                    help="run TorchFix and Fixit (about 17x the parse floor) on N files spread evenly over the selection, "
                         "with the floor and gradscan measured again on those same files (default: all the selection)")
    ap.add_argument("--peer-timeout", type=float, default=3 * 3600, help="seconds before a peer is stopped (reported as a lower bound)")
    ap.add_argument("--single-runs", type=int, default=7, help="alternating runs for the single-file measurement")
    ap.add_argument("--venvs", default=str(Path(tempfile.gettempdir()) / "gradscan-bench-venvs"), help="where peers' virtual environments live")
    ap.add_argument("--workdir", help="scratch folder (default: a new temporary one, removed at the end)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with libcst, click and pathspec for gradscan and the floor")
    ap.add_argument("--output", default=str(REPO / "docs" / "performance.md"))
    ap.add_argument("--write", action="store_true", help="write --output even for a subset")
    ap.add_argument("--no-write", action="store_true", help="do not write --output")
    args = ap.parse_args(argv)

    started = _dt.datetime.now()
    # The snapshot is taken now, so name the commit now: the tree may change during a long run.
    args.rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    load_before = os.getloadavg()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="gradscan-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        corpus_root, chosen = select_files(args.only, args.sample)
        ws, files, lines = build_workspace(corpus_root, chosen, work / "corpus")
        nfiles = len(files)
        snap = snapshot_gradscan(work)
        compile_snapshot(snap, args.python)
        log(f"{nfiles} files, {lines} lines in {ws}; gradscan snapshot in {snap}; {args.jobs} processes")
        bench = Bench(args, work, snap)

        # The whole selection: floor, gradscan cold, first run, warm; ruff.
        main_set = bench.measure_set("main", ws, files, lines, warm=True,
                                     peers=[p for p in bench.peer_names if p == "ruff" or not args.peer_sample or args.peer_sample >= nfiles])
        single_rows = bench.single_file(chosen, corpus_root, ws)

        # Peers on a sample, with the floor and gradscan measured again on the same files.
        peer_set = None
        slow_peers = [p for p in bench.peer_names if p != "ruff"]
        if slow_peers and args.peer_sample and args.peer_sample < nfiles:
            sub = spread(chosen, args.peer_sample)
            ws2, files2, lines2 = build_workspace(corpus_root, sub, work / "peer-sample")
            peer_set = bench.measure_set("peer sample", ws2, files2, lines2, warm=False, peers=bench.peer_names)

        skips = trigger_skips(snap, work / "main-files.txt", args.select)
        report = render(args, main_set, peer_set, single_rows, skips, started, load_before, os.getloadavg(), libcst_version(args.python))
        print(report)
        if not args.no_write and (args.write or (not args.only and not args.sample)):
            Path(args.output).write_text(report)
            log(f"wrote {args.output}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


@dataclass
class MeasureSet:
    label: str
    files: int
    lines: int
    rows: List[Measure]
    floor: Measure
    cold: Measure
    warm: Optional[Measure]
    peers: Dict[str, Measure]
    findings: int
    same: Optional[bool]
    floor_nogc: Optional[Measure] = None
    # per round, cold / floor (wall, CPU), and cold / the floor with the collector paused when measured
    rounds: List[Tuple[float, float, Optional[float], Optional[float]]] = field(default_factory=list)
    one_process: Optional[Measure] = None  # gradscan cold with --jobs 1, when more are measured


def spread(chosen: Dict[str, List[Path]], n: int) -> Dict[str, List[Path]]:
    """n files spread evenly over the selection (deterministic)."""
    names = list(chosen)
    everything = [(name, p) for name in names for p in chosen[name]]
    step = max(len(everything) / n, 1.0)
    picked = [everything[int(i * step)] for i in range(min(n, len(everything)))]
    out = {name: [p for m, p in picked if m == name] for name in names}
    return {name: ps for name, ps in out.items() if ps}


class Bench:
    def __init__(self, args, work: Path, snap: Path) -> None:
        self.args = args
        self.work = work
        self.env = dict(os.environ, PYTHONPATH=str(snap))
        self.env.pop("GRADSCAN_CACHE_DIR", None)
        self.py = args.python
        self.gs = [self.py, "-m", "gradscan"]
        self.sel = ["--select", args.select] if args.select else []
        self.jobs = str(args.jobs)
        self.floor_py = work / "floor.py"
        self.floor_py.write_text(FLOOR_SCRIPT)
        self.peer_names = [] if args.no_peers else [p for p in args.peers.split(",") if p in PEERS]
        self.peer_exes: Dict[str, Path] = {}

    def run(self, name: str, fn, files: int, lines: int, rows: List[Measure], repeat: int = 1) -> Measure:
        wall, cpu, peak, rc, timed_out = best_of(repeat, fn)
        m = Measure(name, wall, cpu, peak, files, lines, "stopped at the time limit: a lower bound" if timed_out else "", rc)
        rows.append(m)
        log(f"{name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {peak:.0f} MB, exit {rc}")
        return m

    def measure_set(self, label: str, ws: Path, files: List[Path], lines: int, warm: bool, peers: List[str]) -> MeasureSet:
        key = label.replace(" ", "-")
        listing = self.work / f"{key}-files.txt"
        listing.write_text("\n".join(str(f) for f in files) + "\n")
        n = len(files)
        rows: List[Measure] = []
        gs, sel, jobs, env = self.gs, self.sel, self.jobs, self.env
        log(f"[{label}] {n} files, {lines} lines")
        cold_out = self.work / f"{key}-cold.txt"
        # The floor and the cold scan alternate, round after round, and each keeps its fastest
        # round: on a shared machine whose speed drifts over minutes, measuring one after the
        # other would put the drift into their ratio.
        contenders = [
            ("libcst parse alone (floor)", lambda: timed([self.py, str(self.floor_py), str(listing), jobs], env=env)),
            ("gradscan, cold (--no-cache)", lambda: timed(gs + ["--isolated", "--no-cache", "--exit-zero", "-q", "-j", jobs, *sel, str(ws)],
                                                          cwd=ws, env=env, stdout_path=cold_out)),
        ]
        if not self.args.no_nogc:
            contenders.insert(1, ("libcst parse alone, collector paused per file (as gradscan runs)",
                                  lambda: timed([self.py, str(self.floor_py), str(listing), jobs, "nogc"], env=env)))
        best: Dict[str, tuple] = {}
        rounds: List[tuple] = []
        for round_ in range(self.args.repeat):
            this: Dict[str, tuple] = {}
            for name, fn in (contenders if round_ % 2 == 0 else contenders[::-1]):
                got = this[name] = fn()
                log(f"  round {round_ + 1}: {name}: {got[0]:.2f} s wall, {got[1]:.2f} s CPU")
                if name not in best or got[0] < best[name][0]:
                    best[name] = got
            f, c = this["libcst parse alone (floor)"], this["gradscan, cold (--no-cache)"]
            g = this.get("libcst parse alone, collector paused per file (as gradscan runs)")
            rounds.append((c[0] / f[0], c[1] / f[1], c[0] / g[0] if g else None, c[1] / g[1] if g else None))
        measured_rows = {}
        for name, _ in contenders:
            wall, cpu, peak, rc, timed_out = best[name]
            m = Measure(name, wall, cpu, peak, n, lines, "", rc)
            rows.append(m)
            measured_rows[name] = m
        floor = measured_rows["libcst parse alone (floor)"]
        floor_nogc = measured_rows.get("libcst parse alone, collector paused per file (as gradscan runs)")
        cold = measured_rows["gradscan, cold (--no-cache)"]
        one_process = None
        if not warm and jobs != "1":
            # What the workers buy: the same cold scan in one process (on the sample: minutes on the corpus).
            one_process = self.run("gradscan, cold, one process (--jobs 1)", lambda: timed(
                gs + ["--isolated", "--no-cache", "--exit-zero", "-q", "-j", "1", *sel, str(ws)], cwd=ws, env=env),
                n, lines, rows, repeat=self.args.repeat)
        warm_m = None
        same = None
        if warm:
            cache_dir = ws / ".gradscan_cache"

            def first_run():
                shutil.rmtree(cache_dir, ignore_errors=True)
                return timed(gs + ["--isolated", "--exit-zero", "-q", "-j", jobs, *sel, str(ws)], cwd=ws, env=env)

            self.run("gradscan, first run (writes the cache)", first_run, n, lines, rows)
            warm_out = self.work / f"{key}-warm.txt"
            warm_m = self.run("gradscan, warm (unchanged tree)", lambda: timed(
                gs + ["--isolated", "--exit-zero", "-q", "-j", jobs, *sel, str(ws)], cwd=ws, env=env,
                stdout_path=warm_out), n, lines, rows, repeat=self.args.repeat)
            same = cold_out.read_bytes() == warm_out.read_bytes()
            log(f"cold and warm findings identical: {same}")
        findings = len(cold_out.read_bytes().splitlines())
        measured: Dict[str, Measure] = {}
        for name in peers:
            exe = self.peer_exes.get(name) or ensure_peer(name, Path(self.args.venvs))
            if exe is None:
                continue
            self.peer_exes[name] = exe
            if name == "torchfix":
                cmd = [str(exe), "--select", "ALL", "-j", jobs, str(ws)]
                penv = dict(os.environ)
            elif name == "fixit":
                cmd = [str(exe), "lint", str(ws)]
                penv = dict(os.environ)  # trailrunner: one process per CPU
            else:
                cmd = [str(exe), "check", "--no-cache", "--isolated", "--exit-zero", "--quiet", str(ws)]
                penv = dict(os.environ, RAYON_NUM_THREADS=jobs)
            measured[name] = self.run(PEERS[name]["label"], lambda: timed(cmd, cwd=ws, env=penv, timeout=self.args.peer_timeout), n, lines, rows)
        return MeasureSet(label, n, lines, rows, floor, cold, warm_m, measured, findings, same, floor_nogc, rounds, one_process)

    def single_file(self, chosen, corpus_root: Path, ws: Path) -> List[Measure]:
        """One file, as pre-commit runs it, against `python -c 'import libcst'`."""
        single = pick_single(chosen, corpus_root, ws)
        if single is None:
            return []
        gs, sel, env, py = self.gs, self.sel, self.env, self.py
        project, target = single
        project_files = sum(1 for _ in project.rglob("*.py"))
        # Warm the project index and the other files' results (pre-commit runs after earlier
        # runs in the same repository).
        subprocess.run(gs + ["--isolated", "--exit-zero", "-q", "-j", self.jobs, *sel, "."], cwd=project, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rel = str(target.relative_to(project))
        original = target.read_bytes()
        one, base = [], []
        try:
            for i in range(self.args.single_runs):
                base.append(timed([py, "-c", "import libcst"], cwd=project, env=env))
                target.write_bytes(original + f"# edited {i}\n".encode())  # so not in the results cache
                one.append(timed(gs + ["--isolated", "--exit-zero", "-q", *sel, rel], cwd=project, env=env))
        finally:
            target.write_bytes(original)
        med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
        target_lines = original.count(b"\n")
        b = Measure("python -c 'import libcst'", med(base, 0), med(base, 1), max(r[2] for r in base), 0, 0)
        o = Measure(f"gradscan {rel} ({target_lines} lines; a project of {project_files} files)",
                    med(one, 0), med(one, 1), max(r[2] for r in one), 1, target_lines)
        log(f"single file: {o.wall:.3f} s vs import libcst {b.wall:.3f} s (+{o.wall - b.wall:.3f} s wall, +{o.cpu - b.cpu:.3f} s CPU)")
        return [b, o]


def pick_single(chosen: Dict[str, List[Path]], corpus_root: Path, ws: Path) -> Optional[Tuple[Path, Path]]:
    """A typical file: the median-sized one among the files that define a class, in timm when it
    is selected (a mid-sized project of model code), else in the first package."""
    dirs = corpus.package_dirs(corpus_root)
    order = (["timm"] if "timm" in chosen else []) + [n for n in chosen if n != "timm"]
    for name in order:
        paths = [p for p in chosen[name] if b"class " in p.read_bytes()] or chosen[name]
        if paths:
            project = ws / dirs[name].name
            ordered = sorted(paths, key=lambda p: p.stat().st_size)
            return project, project / ordered[len(ordered) // 2].relative_to(dirs[name])
    return None


DESIGN = """
## Where the time goes, and what gradscan does about it

- **The parse is the floor.** libcst's parser is about ten times slower than `ast.parse`; gradscan
  parses each file once with libcst and everything else must fit in the remaining half of the
  floor. Python's own parser reads each file first (about a tenth of the floor): nesting it
  refuses would crash libcst's native parser (or keep it busy for minutes), so such a file is
  reported as unparseable and never given to libcst. The project index (below) already parses
  every file that defines a class with `ast`; the engine does not parse that content again.
- **Trigger pre-filter.** A file that contains none of the enabled rules' trigger tokens is not
  parsed with libcst (only `ast.parse`, for syntax errors). With the default rules the triggers
  are broad (see the note above), so this skips little on library code.
- **One walk of our own.** The semantic model (`gradscan/semantics/model.py`) is built in one pass
  that does not go through `node.visit`: libcst's visitor rebuilds and re-validates every node it
  passes, which costs about half the parse. `gradscan/semantics/walk.py` reads the fields in
  libcst's own visiting order (taken from libcst at run time, tested against `node.visit`),
  skips whitespace, comments and punctuation, records parents by `id` in bulk and calls a handler
  only for the node types the model collects: the walk costs under a tenth of the parse, and the
  whole model (walk, classes, contexts) about a sixth.
- **No metadata providers.** Names are resolved by a small import table, parents are our own map,
  and source positions (libcst's `PositionProvider`, twice the parse) are computed only for files
  that have a finding.
- **The project index** (classes and bases of every module, for cross-file subclasses) is built with
  `ast` from module-level statements, in worker processes when many files need it, cached in
  `.gradscan_cache/index.json` by size and mtime, and not rewritten for a handful of changed files.
- **The results cache** (`gradscan/cache.py`) keeps each file's findings, keyed by its path and the
  settings and checked against its content hash, the checker's own fingerprint and the project-index
  entries the verdict read (recorded while the file was checked; whole-project questions such as
  "which attributes do subclasses of X read" are recorded by their answer). An unchanged tree is
  answered without parsing anything; editing a base class re-checks its subclasses and nothing else.
- **Workers only when they pay.** `--jobs N` (default: the CPU count) forks workers when the files to
  check hold more than 256 KB; they inherit the loaded rules and the index, take the largest files
  first, and write their own cache entries. The parent keeps only the file list, the index and the
  findings, so memory does not grow with the tree beyond the class index: peak memory is that of the
  largest file's tree in one worker.
- **Garbage collection.** libcst allocates a few hundred thousand objects per file; gradscan pauses
  Python's cyclic collector while it checks a file (and while `ast` parses one for the index),
  breaks the semantic model's reference cycles once the file's findings are out so its tree is
  freed by reference counting, and freezes the index and the rules for the run.
  The floor runs with Python's default collector settings, as a plain libcst program would.
- **Start-up.** pathspec is imported only when a `.gitignore` exists, tempfile only when the index is
  written, and hashlib's OpenSSL binding not at all; what remains is libcst's own import, click, the
  rules, the index load and the file itself.
"""


def render(args, main: MeasureSet, peer_set: Optional[MeasureSet], single_rows: List[Measure], skips, started,
           load_before, load_after, cst_version) -> str:
    m = machine()
    sel = f"`--select {args.select}`" if args.select else "the default rule set"
    scope = "the whole benchmark corpus" if not args.only and not args.sample else (
        f"a subset of the benchmark corpus ({'packages ' + args.only if args.only else 'all packages'}"
        f"{f', {args.sample} files spread evenly' if args.sample else ''})")
    out = ["# Performance\n"]
    at = f" at commit `{args.rev}`" if args.rev else ""
    out.append(f"Measured by `benchmarks/bench.py`{at} on {started:%Y-%m-%d} (started {started:%H:%M}), on {scope}: "
               f"{main.files:,} files, {main.lines:,} lines, with {sel}, {args.jobs} processes for every tool that has the option.\n")
    out.append(f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory']}, {m['os']}; Python {m['python']}, libcst {cst_version}. "
               f"Load average {load_before[0]:.1f} at the start and {load_after[0]:.1f} at the end: the machine is shared with "
               "other work, so wall-clock seconds are noisy and ratios of CPU seconds (summed over a tool's processes) are "
               "the steadier comparison. Ratios divide a row's seconds by the reference's: below 1 is faster. Peak MB is the "
               "resident memory of the largest single process (a worker or the parent).\n")
    out.append(_set_table(main))
    out.append("")
    if peer_set is not None:
        out.append(f"### Peers, on {peer_set.files:,} of those files ({peer_set.lines:,} lines, spread evenly), in the same run\n")
        out.append("TorchFix and Fixit take about seventeen times the parse floor, hours on the whole corpus on two cores; they "
                   "run on this sample, with the floor and gradscan measured again on the same files.\n")
        out.append(_set_table(peer_set))
        out.append("")
    out.append("## Targets\n")
    floor, cold, warm = main.floor, main.cold, main.warm
    nogc = main.floor_nogc
    also = (f" (against the floor with the collector paused as gradscan pauses it: {cold.wall / nogc.wall:.2f} × wall, "
            f"{cold.cpu / nogc.cpu:.2f} × CPU)") if nogc else ""
    tr = [["cold scan ≤ 1.5 × the libcst parse floor", f"{cold.wall / floor.wall:.2f} × wall, {cold.cpu / floor.cpu:.2f} × CPU{also}",
           _ok(cold.wall / floor.wall <= 1.5)]]
    if warm is not None:
        tr.append(["warm re-run ≤ 0.1 × the cold scan", f"{warm.wall / cold.wall:.3f} × wall, {warm.cpu / cold.cpu:.3f} × CPU",
                   _ok(warm.wall / cold.wall <= 0.1)])
        if "ruff" in main.peers:
            r = main.peers["ruff"]
            tr.append(["warm re-run aims at ruff's cold time", f"{warm.wall:.2f} s vs ruff {r.wall:.2f} s ({warm.wall / r.wall:.1f} ×)", ""])
    if single_rows:
        b, o = single_rows
        tr.append(["one file ≤ 0.25 s over `python -c 'import libcst'`", f"+{o.wall - b.wall:.3f} s wall ({o.wall:.3f} vs {b.wall:.3f}), "
                   f"+{o.cpu - b.cpu:.3f} s CPU", _ok(o.wall - b.wall <= 0.25)])
    ref = peer_set if peer_set is not None else main
    for n in ("torchfix", "fixit"):
        if n in ref.peers:
            p = ref.peers[n]
            bound = " (at least: the peer was stopped)" if p.note else ""
            tr.append([f"faster than {PEERS[n]['label']}", f"gradscan cold {p.wall / ref.cold.wall:.1f} × faster wall, "
                       f"{p.cpu / ref.cold.cpu:.1f} × less CPU{bound}", _ok(ref.cold.wall < p.wall)])
    if peer_set is not None and peer_set.one_process is not None:
        one = peer_set.one_process
        tr.append([f"`--jobs {args.jobs}` helps (against `--jobs 1`, on the sample)",
                   f"{one.wall / peer_set.cold.wall:.2f} × faster wall ({peer_set.cold.wall:.2f} s vs {one.wall:.2f} s)",
                   _ok(peer_set.cold.wall < one.wall)])
    if peer_set is not None:
        # Peak memory of any libcst tool is set by the largest file's tree, which the floor also
        # holds; flat means gradscan's peak stays a steady multiple of the floor's as the tree grows.
        small, big = peer_set.cold.peak_mb / peer_set.floor.peak_mb, cold.peak_mb / floor.peak_mb
        tr.append(["memory flat as the tree grows", f"gradscan cold peak {peer_set.cold.peak_mb:.0f} MB on {peer_set.lines:,} lines "
                   f"({small:.1f} × the floor's peak), {cold.peak_mb:.0f} MB on {main.lines:,} ({big:.1f} ×)", _ok(big <= small * 1.25)])
    out.append(_table(["target", "measured", ""], tr))
    out.append("")
    out.append("## Notes\n")
    skipped, skipped_lines, nrules = skips
    out.append(f"- Trigger pre-filter: {skipped:,} of {main.files:,} files ({skipped_lines:,} of {main.lines:,} lines) contain none of the "
               f"{nrules} enabled rules' trigger tokens; gradscan does not parse them with libcst. The floor parses every file.")
    if main.same is not None:
        out.append(f"- gradscan printed {main.findings:,} findings; the cold and warm outputs are identical: {'yes' if main.same else 'NO'}.")
    out.append(f"- The floor and gradscan's cold scan alternate over {args.repeat} rounds (the order reversed each round) and each "
               "keeps its fastest round, so that the machine's drift does not enter their ratio; the warm re-run keeps the fastest of "
               f"{args.repeat} runs; the first run and the peers are single runs.")
    if main.rounds:
        each = "; ".join(f"round {i + 1}: {w:.2f} × wall, {c:.2f} × CPU" + (f" (collector paused: {gw:.2f} ×, {gc:.2f} ×)" if gw else "")
                         for i, (w, c, gw, gc) in enumerate(main.rounds))
        out.append(f"- The cold scan against the floor in each round, to show the machine's noise: {each}. The best rounds "
                   "above are taken for each row on its own, so a ratio of two best rounds can fall outside this range.")
    out.append("- The floor is `libcst.parse_module` of every file in a process pool of the same size (largest files first), "
               "Python start-up and libcst's import included, as they are in gradscan's time.")
    out.append("- gradscan cold includes discovering the files and building the project's class index (no cached index); it is "
               "run from a byte-compiled snapshot of the working tree, as an installed wheel would be.")
    if single_rows:
        out.append(f"- One file: the median of {args.single_runs} runs of each, alternating; the file is edited before each run "
                   "(as any file pre-commit passes, so its result is not cached), the project's class index and the other files' "
                   "results are cached. The file is the median-sized one among the files defining a class.")
    if main.peers or (peer_set and peer_set.peers):
        out.append("- Peers run in their own virtual environments (TorchFix 0.7.0 pins an older libcst): TorchFix with `-j` set to "
                   "the same number of processes; Fixit through its default process pool (one per CPU); ruff with "
                   "`RAYON_NUM_THREADS` set to the same number. Their rules differ from gradscan's: this compares cost, not findings.")
    for s_ in (main, peer_set):
        for r in (s_.rows if s_ else []):
            if r.note:
                out.append(f"- {r.name} ({s_.label}): {r.note}.")
    if single_rows:
        out.append("\n## One file, as pre-commit runs it\n")
        out.append(_table(["", "wall s", "CPU s", "peak MB"], [[r.name, f"{r.wall:.3f}", f"{r.cpu:.3f}", f"{r.peak_mb:.0f}"] for r in single_rows]))
    out.append(DESIGN)
    out.append("Reproduce: `python benchmarks/corpus.py && python benchmarks/bench.py --peer-sample 1000` "
               "(`--only PKG,...` and `--sample N` for a subset, `--no-peers` to skip the peers).\n")
    return "\n".join(out)


def _set_table(s: MeasureSet) -> str:
    peer_names = list(s.peers)
    head = ["", "files", "lines", "wall s", "CPU s", "lines/s", "peak MB", "× floor (wall)", "× floor (CPU)"] + [f"× {n} (wall)" for n in peer_names]
    rows = []
    for r in s.rows:
        row = [r.name, f"{r.files:,}", f"{r.lines:,}", f"{r.wall:.2f}", f"{r.cpu:.2f}", f"{r.lines_per_s:,.0f}", f"{r.peak_mb:.0f}",
               f"{r.wall / s.floor.wall:.2f}", f"{r.cpu / s.floor.cpu:.2f}"]
        row += [f"{r.wall / s.peers[n].wall:.3f}" for n in peer_names]
        rows.append(row)
    return _table(head, rows)


def _ok(flag: bool) -> str:
    return "met" if flag else "NOT met"


def _table(head: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
