"""Reliability (issue 17): the per-file time budget (GS002), a worker stuck on a file, Ctrl-C and
SIGTERM with workers, a loose file outside any project, standard input's project, and a
corrupted cache. Timings here are never asserted tightly: hostile inputs are measured by
benchmarks/hostile.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gradscan import runner
from gradscan.config import ConfigError, Settings, load_config
from gradscan.engine import check_source
from gradscan.rules import REGISTRY
from gradscan.rules.base import Report, Rule
from gradscan.semantics import budget
from tests.cli_support import BAD, SELECT, cli

ROOT = Path(__file__).resolve().parents[1]

BASE = "import torch.nn as nn\n\n\nclass BaseBlock(nn.Module):\n    pass\n"
# GS106 (a layer created in forward) only when BaseBlock is known to be a torch module.
BLOCK = ("import torch.nn as nn\n\nfrom {module} import BaseBlock\n\n\nclass Block(BaseBlock):\n"
         "    def forward(self, x):\n        layer = nn.Linear(4, 4)\n        return layer(x)\n")


def chain(n: int) -> str:
    body = "".join(f"    x = x.detach() + {i}\n" for i in range(n))
    return f"import torch\n\n\ndef f(x):\n{body}    return x\n"


@pytest.fixture
def test_rules():
    """Two test-only rules: GS1x8 flags `torch` names at once; GS1x9 ticks the budget until it
    has run for `SPIN` seconds (an analysis that takes too long), then flags them too."""
    codes = [c for c in (f"GS19{d}" for d in "9876543210") if c not in REGISTRY][:2]
    first, second = sorted(codes)

    def names(model):
        import libcst as cst

        from gradscan.semantics.walk import descendants

        return [n for n in descendants(model.module) if isinstance(n, cst.Name) and n.value == "torch"]

    class Quick(Rule):
        code = first
        name = "test-only-quick"
        framework = "any"
        summary = message = "quick finding"

        def check(self, model):
            for node in names(model):
                yield Report(node)

    class Slow(Rule):
        code = second
        name = "test-only-slow"
        framework = "any"
        summary = message = "slow finding"
        spin = 0.5

        def check(self, model):
            end = time.perf_counter() + self.spin
            while time.perf_counter() < end:
                budget.tick()
            for node in names(model):
                yield Report(node)

    try:
        yield Quick, Slow
    finally:
        REGISTRY.pop(first, None)
        REGISTRY.pop(second, None)


# ---- the budget ---------------------------------------------------------------------------------
def test_a_file_over_its_budget_is_cut_short_with_its_findings_so_far(test_rules, monkeypatch):
    quick, slow = test_rules
    monkeypatch.setattr(budget, "PARSE_FACTOR", 0)
    text = "import torch\nx = torch.ones(2)\n"
    found = check_source(text, "m.py", Settings(file_budget=0.05), select=[quick.code, slow.code])
    codes = [f.code for f in found]
    assert codes.count(quick.code) == 2 and slow.code not in codes
    [cut] = [f for f in found if f.code == "GS002"]
    assert (cut.line, cut.col) == (1, 1) and f"rules not finished: {slow.code}" in cut.message
    # Without a budget (0), or with enough of it, the slow rule finishes.
    for seconds in (0, 30):
        found = check_source(text, "m.py", Settings(file_budget=seconds), select=[quick.code, slow.code])
        assert sorted({f.code for f in found}) == [quick.code, slow.code]


def test_the_parse_time_extends_the_budget(test_rules, monkeypatch):
    _, slow = test_rules
    monkeypatch.setattr(budget, "PARSE_FACTOR", 10 ** 6)  # any parse then buys far more than the spin
    found = check_source("import torch\n", "m.py", Settings(file_budget=0.05), select=[slow.code])
    assert [f.code for f in found] == [slow.code]


def test_a_real_analysis_is_cut_short(monkeypatch):
    """A long chain of detached reassignments through GS201's flow analysis, a tiny budget."""
    monkeypatch.setattr(budget, "PARSE_FACTOR", 0)
    text = BAD + "\n\n" + chain(1500)
    found = check_source(text, "m.py", Settings(file_budget=0.001), select=["GS101", "GS201"])
    assert [f.code for f in found].count("GS101") == 2  # GS101 runs first: its findings are kept
    [cut] = [f for f in found if f.code == "GS002"]
    assert "rules not finished: GS201" in cut.message
    assert budget._deadline is None  # the budget does not outlive the file


def test_gs002_can_be_ignored_and_is_never_cached(test_rules, monkeypatch, tmp_path):
    quick, slow = test_rules
    monkeypatch.setattr(budget, "PARSE_FACTOR", 0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.delenv("GRADSCAN_CACHE_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text("import torch\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings(root=tmp_path, select=[quick.code, slow.code], file_budget=0.05)
    for _ in range(2):
        result = runner.run(["m.py"], settings, jobs=1)
        assert result.cached == 0 and "GS002" in [f.code for f in result.findings]
    ignoring = Settings(file_budget=0.05).with_selection(select=[slow.code], ignore=["GS002"])
    assert check_source("import torch\n", "m.py", ignoring) == []


@pytest.mark.parametrize("value, ok", [("10", 10.0), ("2.5", 2.5), ("0", 0.0), ("-1", None), ('"10"', None),
                                        ("true", None), ("nan", None)])
def test_file_budget_in_the_configuration(tmp_path, value, ok):
    config = tmp_path / "pyproject.toml"
    config.write_text(f"[tool.gradscan]\nfile-budget = {value}\n")
    if ok is None:
        with pytest.raises(ConfigError, match="file-budget"):
            load_config(config)
    else:
        assert load_config(config).file_budget == ok


def test_file_budget_on_the_command_line(tmp_path):
    (tmp_path / "m.py").write_text(BAD)
    r = cli(["--isolated", "--no-cache", *SELECT, "--file-budget", "30", "m.py"], cwd=tmp_path)
    assert r.code == 1 and r.codes() == ["GS101", "GS101", "GS107"], r
    assert cli(["--isolated", "--file-budget", "-1", "m.py"], cwd=tmp_path).code == 2


def test_readme_configuration_example_is_valid(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n[tool.gradscan]\n", 1)[1].split("```", 1)[0]
    assert "file-budget" in block
    (tmp_path / "pyproject.toml").write_text("[tool.gradscan]\n" + block)
    assert load_config(tmp_path / "pyproject.toml").file_budget > 0


# ---- workers: stuck, killed, interrupted ------------------------------------------------------------
STUCK = textwrap.dedent('''
    import json, os, sys, time
    from pathlib import Path
    from gradscan import runner
    from gradscan.config import Settings
    from gradscan.rules.base import Rule

    class Stuck(Rule):
        """Hangs on one file without ever ticking the budget (as native code would)."""
        code = "GS997"
        name = "test-stuck"
        framework = "any"
        summary = message = "test-only"
        triggers = ("torch",)

        def check(self, model):
            if "stuck_me" in str(model.path):
                time.sleep(3600)
            yield from ()

    runner.PAST_DEADLINE_SECONDS = 0.5
    root = Path(sys.argv[1])
    started = time.monotonic()
    result = runner.run([str(root)], Settings(root=root, select=["GS997", "GS201"], file_budget=0.5), jobs=2,
                        use_cache=False)
    print(json.dumps({"workers": result.workers, "seconds": time.monotonic() - started,
                      "findings": [(os.path.basename(f.path), f.code, f.message) for f in result.findings]}))
''')

DETACHED = ("import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return self.l(x).detach()\n"
            "    def __init__(self):\n        super().__init__()\n        self.l = torch.nn.Linear(2, 2)\n")
PADDING = "\n".join(f"# padding line {i} so that the run uses workers" for i in range(400)) + "\n"


def test_a_worker_stuck_on_a_file_is_stopped_and_the_run_goes_on(tmp_path):
    for i in range(30):
        (tmp_path / f"m{i:02}.py").write_text(DETACHED + PADDING)
    (tmp_path / "stuck_me.py").write_text(DETACHED + PADDING)
    done = subprocess.run([sys.executable, "-c", STUCK, str(tmp_path)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["workers"] == 2 and out["seconds"] < 120
    found = {(name, code) for name, code, _ in out["findings"]}
    assert found == {(f"m{i:02}.py", "GS201") for i in range(30)} | {("stuck_me.py", "GS002")}


def _slow_tree(root: Path, files: int = 30) -> None:
    (root / "pyproject.toml").write_text("")
    for k in range(files):
        (root / f"slow{k:02}.py").write_text(chain(2500).replace("def f(", f"def f{k}("))


def _group(pid: int) -> list:
    """The processes still in the process group `pid` leads (zombies excluded)."""
    ps = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pid)], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if line.split() and "Z" not in line.split()[1]]


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX signals")
@pytest.mark.parametrize("signum, to_group, status", [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
                         ids=["ctrl-c-to-the-group", "sigterm-to-the-parent"])
def test_an_interrupt_with_workers_exits_at_once_and_cleanly(tmp_path, monkeypatch, signum, to_group, status):
    monkeypatch.delenv("GRADSCAN_CACHE_DIR", raising=False)
    _slow_tree(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "gradscan", "-j", "2", "."], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # Wait until the workers are checking files (the parent and two children in its group).
        deadline = time.monotonic() + 120
        while len(_group(proc.pid)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        sent = time.monotonic()
        if to_group:
            os.killpg(proc.pid, signum)  # what Ctrl-C in a terminal does
        else:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == status
    assert err == b"", err.decode()[-2000:]
    assert took < 2.0, f"exit took {took:.2f} s"
    time.sleep(0.2)
    assert _group(proc.pid) == []  # no worker left running
    cache = tmp_path / ".gradscan_cache"
    for entry in cache.rglob("*.json"):
        json.loads(entry.read_text())  # every entry whole (or absent)
    assert not list(cache.rglob(".tmp-*"))


def test_a_corrupted_or_truncated_cache_entry_is_ignored_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADSCAN_CACHE_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    settings = Settings(root=tmp_path, select=["GS101", "GS107"])
    first = runner.run(["m.py"], settings, jobs=1)
    entries = list((tmp_path / ".gradscan_cache" / "results").rglob("*.json"))
    assert len(entries) == 1 and first.checked == 1
    index = tmp_path / ".gradscan_cache" / "index.json"
    for damage in (lambda t: t[: len(t) // 2], lambda t: "\x00garbage{", lambda t: "[]", lambda t: '{"findings": 3}'):
        entries[0].write_text(damage(entries[0].read_text()))
        index.write_text(damage(index.read_text()) if index.exists() else "")
        again = runner.run(["m.py"], settings, jobs=1)
        assert again.cached == 0 and again.checked == 1
        assert again.findings == first.findings
        json.loads(entries[0].read_text())  # rewritten whole
        warm = runner.run(["m.py"], settings, jobs=1)
        assert warm.cached == 1 and warm.findings == first.findings


def test_two_runs_at_once_with_workers_do_not_corrupt_the_cache(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    for i in range(30):
        (tmp_path / f"m{i:02}.py").write_text(DETACHED + PADDING)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GRADSCAN_CACHE_DIR", None)
    command = [sys.executable, "-m", "gradscan", "-q", "-j", "2", "."]
    procs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert outputs[0][0] == outputs[1][0] and outputs[0][0].count("GS201") == 30, outputs
    for entry in (tmp_path / ".gradscan_cache").rglob("*.json"):
        json.loads(entry.read_text())
    assert not list((tmp_path / ".gradscan_cache").rglob(".tmp-*"))
    warm = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert warm.stdout == outputs[0][0]


# ---- a loose file, standard input ---------------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home folder (HOME and XDG_CACHE_HOME under tmp_path) without any project marker."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("GRADSCAN_CACHE_DIR", raising=False)
    if runner.project_root(home) is not None:
        pytest.skip("the temporary folder is inside a project")
    return home


def _crowd(folder: Path, n: int = 40) -> None:
    """Many subfolders whose files would be indexed by a recursive walk (one redefines BaseBlock
    as a plain class under the same module name: reading it would change the verdict)."""
    for i in range(n):
        (folder / f"sub{i:02}").mkdir()
        (folder / f"sub{i:02}" / "base.py").write_text("class BaseBlock:\n    pass\n")
        (folder / f"sub{i:02}" / "x.py").write_text("class X:\n    pass\n")


def test_a_loose_file_indexes_only_its_own_folder(home):
    scratch = home / "scratch"
    scratch.mkdir()
    (scratch / "base.py").write_text(BASE)
    (scratch / "model.py").write_text(BLOCK.format(module="base"))
    _crowd(scratch)
    index = runner.index_for([], [str(scratch / "model.py")], Settings(root=scratch), use_cache=False)
    assert sorted(Path(f).name for f in index.files) == ["base.py", "model.py"]
    r = cli(["--isolated", "-v", "model.py"], cwd=scratch)
    assert r.code == 1 and r.codes() == ["GS106"], r  # BaseBlock, from base.py beside it, is a torch module
    assert f"{scratch} (no project marker above it" in r.stderr
    # No cache folder in the scratch folder: the user cache is used.
    assert not list(scratch.rglob(".gradscan_cache"))
    user = home / ".cache" / "gradscan"
    [index_json] = list(user.rglob("index.json"))
    assert sorted(Path(f).name for f in json.loads(index_json.read_text())["files"]) == ["base.py", "model.py"]


def test_a_loose_file_in_a_package_indexes_its_init_chain(home):
    top = home / "work"
    (top / "pkg" / "nets").mkdir(parents=True)
    (top / "pkg" / "__init__.py").write_text("")
    (top / "pkg" / "nets" / "__init__.py").write_text("")
    (top / "pkg" / "base.py").write_text(BASE)
    (top / "pkg" / "nets" / "model.py").write_text(BLOCK.format(module="..base"))
    (top / "elsewhere").mkdir()
    (top / "elsewhere" / "y.py").write_text("class Y:\n    pass\n")
    _crowd(top / "pkg" / "nets", 5)
    index = runner.index_for([], [str(top / "pkg" / "nets" / "model.py")], Settings(root=top), use_cache=False)
    assert sorted(Path(f).relative_to(top).as_posix() for f in index.files) == [
        "pkg/__init__.py", "pkg/base.py", "pkg/nets/__init__.py", "pkg/nets/model.py"]
    r = cli(["--isolated", "--no-cache", "pkg/nets/model.py"], cwd=top)
    assert r.codes() == ["GS106"], r


def test_standard_input_uses_the_current_folders_project(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADSCAN_CACHE_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "base.py").write_text(BASE)
    source = BLOCK.format(module="pkg.base").encode()
    r = cli(["--isolated", "-v", "-"], cwd=tmp_path, input=source)
    assert r.codes() == ["GS106"] and r.lines[0].startswith("-:8:"), r
    assert f"project root {tmp_path}" in r.stderr
    # The same through a real process.
    done = subprocess.run([sys.executable, "-m", "gradscan", "--isolated", "--no-cache", "-"], cwd=tmp_path,
                          input=source, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert b"GS106" in done.stdout and done.returncode == 1, done.stderr
