"""The runner survives its workers: a process that dies checking one file costs that file only."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A rule that kills its own process (as a fault in libcst's native parser would) on one file.
SCRIPT = textwrap.dedent('''
    import json, os, signal, sys
    from gradscan import runner
    from gradscan.config import Settings
    from gradscan.rules.base import Report, Rule

    class KillsItsProcess(Rule):
        code = "GS998"
        name = "test-kills-its-process"
        framework = "any"
        summary = message = "test-only"
        triggers = ("torch",)

        def check(self, model):
            if "crash_me" in str(model.path):
                os.kill(os.getpid(), signal.SIGKILL)
            yield from ()

    from pathlib import Path
    root = Path(sys.argv[1])
    result = runner.run([str(root)], Settings(root=root, select=["GS998", "GS201"]), jobs=2, use_cache=False)
    print(json.dumps({"workers": result.workers, "findings": [(os.path.basename(f.path), f.code, f.message) for f in result.findings]}))
''')

BAD = "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return self.l(x).detach()\n    def __init__(self):\n        super().__init__()\n        self.l = torch.nn.Linear(2, 2)\n"


def test_a_worker_that_dies_costs_only_its_file(tmp_path):
    filler = "\n".join(f"# padding line {i} so that the run uses workers" for i in range(400)) + "\n"
    for i in range(40):
        (tmp_path / f"m{i:02}.py").write_text(BAD + filler)
    (tmp_path / "crash_me.py").write_text(BAD + filler)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["workers"] == 2
    found = {(name, code) for name, code, _ in out["findings"]}
    assert found == {(f"m{i:02}.py", "GS201") for i in range(40)} | {("crash_me.py", "GS001")}
    [message] = [m for name, _, m in out["findings"] if name == "crash_me.py"]
    assert "crashed" in message


def test_a_file_the_index_parsed_is_not_parsed_with_ast_again(tmp_path, monkeypatch):
    """The index parses class files with `ast`; the engine's own `ast` pass (which guards libcst
    against nesting that crashes it) is skipped for exactly that content, and only for it."""
    from gradscan import engine, runner
    from gradscan.config import Settings

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.py").write_text(BAD)
    (tmp_path / "script.py").write_text("import torch\ndef f(x):\n    return x * 2\n")  # no class, no cut: not indexed
    parsed = []
    real = engine._python_syntax_error
    monkeypatch.setattr(engine, "_python_syntax_error", lambda text: parsed.append(text) or real(text))
    result = runner.run([str(tmp_path)], Settings(root=tmp_path, select=["GS"]), jobs=1, use_cache=False)
    assert [Path(f.path).name for f in result.findings if f.code == "GS201"] == ["model.py"]
    assert parsed == [(tmp_path / "script.py").read_text()]

    index = runner.index_for([], [str(tmp_path)], Settings(root=tmp_path), use_cache=False)
    model = (tmp_path / "model.py").resolve()
    assert index.accepted_by_python(model, model.stat().st_size)
    model.write_text(BAD + "x = (\n")  # changed since the index read it (and now invalid)
    assert not index.accepted_by_python(model, model.stat().st_size)


def test_a_syntax_error_is_reported_whatever_the_index_holds(tmp_path):
    from gradscan import runner
    from gradscan.config import Settings

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.py").write_text(BAD + "class Broken(torch.nn.Module:\n    pass\n")
    result = runner.run([str(tmp_path)], Settings(root=tmp_path, select=["GS"]), jobs=1, use_cache=False)
    assert [(f.line, f.code) for f in result.findings] == [(8, "GS001")]
