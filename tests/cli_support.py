"""Shared helpers for the command-line tests: run the real command, in-process (click's test
runner) or as a real subprocess, and register test-only rules that are removed afterwards."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Type

from click.testing import CliRunner

from gradscan.cli import main
from gradscan.rules import REGISTRY, Report, Rule

REPO = Path(__file__).resolve().parents[1]

# Two findings of the finished rule GS101 (lines 7 and 8) and one of GS107 (line 9).
BAD = """\
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)
        self.b = torch.zeros(3, requires_grad=True)
        self.w.require_grad = False
"""
GOOD = """\
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3))
"""
# The rules the tests look at, so that rules added later cannot change what they see.
SELECT = ["--select", "GS101,GS107"]
# For runs that must not depend on a pyproject.toml around the temporary folder, nor on the cache.
ISOLATED = ["--isolated", "--no-cache"]


def write(root: Path, rel: str, text: str = BAD) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class Result:
    """What a run printed and how it exited (the same shape for both ways of running)."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def lines(self) -> List[str]:
        return self.stdout.splitlines()

    def codes(self) -> List[str]:
        """The rule codes of concise output lines, in order."""
        return [line.split(": ", 2)[1].split()[0] for line in self.lines if ": GS" in line]

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def cli(args: Sequence[str], cwd: Optional[Path] = None, input=None) -> Result:
    """Run the command in-process with click's test runner, from `cwd`."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    finally:
        os.chdir(old)
    return Result(result.exit_code, result.stdout, result.stderr)


def gradscan_script() -> List[str]:
    script = Path(sys.executable).parent / "gradscan"
    found = str(script) if script.exists() else shutil.which("gradscan")
    assert found, "the gradscan script is not installed beside the interpreter"
    return [found]


def run(args: Sequence[str], cwd: Path, input: Optional[bytes] = None, command: Optional[List[str]] = None,
        timeout: float = 300) -> Result:
    """Run the real command as a subprocess (`python -m gradscan` unless `command` is given)."""
    command = command or [sys.executable, "-m", "gradscan"]
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([*command, *args], cwd=cwd, input=input, capture_output=True, timeout=timeout, env=env)
    return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))


def free_code(band: str = "GS19") -> str:
    """A rule code nobody uses, for a test-only rule."""
    return next(f"{band}{d}" for d in "9876543210" if f"{band}{d}" not in REGISTRY)


@contextlib.contextmanager
def temporary_rule(code: Optional[str] = None, crash: bool = False, default_enabled: bool = True,
                   trigger: str = "torch", pattern: str = "torch") -> Iterator[Type[Rule]]:
    """Register a test-only rule (flagging every `Name` equal to `pattern`, or raising when
    `crash`) and remove it afterwards, whatever happens."""
    import libcst as cst

    code = code or free_code()
    namespace = dict(
        code=code, name=f"test-only-{code.lower()}", framework="any", summary="test-only rule",
        message="test-only finding", hint="test-only hint", default_enabled=default_enabled, triggers=(trigger,),
        doc="## What it does\ntest\n## Why it breaks gradients\ntest\n## Example\n## Use instead\n## References\n",
    )

    def check(self, model):
        if crash:
            raise ValueError("boom from a test-only rule")
        for node in _names(model.module, pattern):
            yield Report(node)

    namespace["check"] = check
    try:
        rule = type(f"TestOnly{code}", (Rule,), namespace)
        yield rule
    finally:
        REGISTRY.pop(code, None)


def _names(module, pattern: str):
    import libcst as cst

    found = []

    class Visitor(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            if node.value == pattern:
                found.append(node)

    module.visit(Visitor())
    return found


def gs001(source: str) -> str:
    """`line:col: GS001 syntax error: message` as this Python reports the error in `source`
    (messages and columns differ between Python versions)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<test>", "exec")
    except SyntaxError as exc:
        return f"{exc.lineno}:{max(exc.offset or 1, 1)}: GS001 syntax error: {exc.msg}"
    raise AssertionError(f"no syntax error in {source!r}")
