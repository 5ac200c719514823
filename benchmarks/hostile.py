"""Hostile inputs: files built to make an analysis slow, each checked within a bound.

Each case is written into a scratch project and checked by the real command (`python -m
gradscan --no-cache --isolated -j 1 FILE`) in a subprocess, timed with the wall clock. A file's
analysis may take its budget: `--file-budget` seconds (default here 10), or 20x the file's
parse time if longer; after that it is cut short (GS002). So the bound of a case is

    bound = start-up + parse + max(budget, 20 x parse) + slack

where start-up is the time of the same command on an empty file and parse is libcst's
`parse_module` time on the case, measured here first. The cases:

- `chain-N`: one function of N lines `x = x.detach() + i` (N = 1k, 2k, 10k, 20k, 60k);
- `nested-blocks`: `if` statements nested 95 deep (Python allows 100 levels of indentation);
- `nested-brackets`: a list nested 180 deep (Python allows 200 parentheses);
- `nested-defs`: functions nested 90 deep, each returning its inner function's value;
- `terms-100k`: one expression of 100,000 terms `x0 + x1 + ...`;
- `module-5mb`: a 5 MB module of many small torch functions.

This is a benchmark, not a test: it takes minutes. It prints a table and exits 1 if a case
went over its bound.

    python benchmarks/hostile.py                   # every case
    python benchmarks/hostile.py --only chain-2k,terms-100k --budget 5
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
SLACK = 3.0  # seconds: positions, output, a loaded machine


def chain(n: int) -> str:
    body = "".join(f"    x = x.detach() + {i}\n" for i in range(n))
    return f"import torch\n\n\ndef f(x):\n{body}    return x\n"


def nested_blocks(depth: int = 95) -> str:
    lines = ["import torch", "", "def f(x):"]
    for level in range(depth):
        lines.append("    " * (level + 1) + f"if x.sum() > {level}:")
    lines.append("    " * (depth + 1) + "x = x.detach() * 2")
    lines.append("    return x")
    return "\n".join(lines) + "\n"


def nested_brackets(depth: int = 180) -> str:
    return "import torch\n\nx = torch.ones(2)\ny = " + "[" * depth + "x.detach()" + "]" * depth + "\n"


def nested_defs(depth: int = 90) -> str:
    lines = ["import torch", ""]
    for level in range(depth):
        pad = "    " * level
        lines.append(f"{pad}def f{level}(x):")
        lines.append(f"{pad}    x = x.detach() + {level}")
    for level in reversed(range(depth)):
        pad = "    " * level
        lines.append(f"{pad}    return f{level + 1}(x)" if level + 1 < depth else f"{pad}    return x")
    return "\n".join(lines) + "\n"


def terms(n: int) -> str:
    names = " + ".join(f"x{i % 100}" for i in range(n))
    params = ", ".join(f"x{i}" for i in range(100))
    return f"import torch\n\n\ndef f({params}):\n    y = {names}\n    return y.detach()\n"


def module(megabytes: float) -> str:
    parts = ["import torch\nimport torch.nn as nn\n\n"]
    size = 0
    i = 0
    while size < megabytes * 1_000_000:
        block = (f"\n\nclass Block{i}(nn.Module):\n"
                 f"    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear({i % 7 + 1}, 4)\n\n"
                 f"    def forward(self, x):\n        h = self.fc(x)\n        if h.sum() > {i}:\n"
                 f"            h = h.detach()\n        return torch.relu(h) + x.mean()\n\n\n"
                 f"def helper_{i}(model, x):\n    out = model(x)\n    loss = out.pow(2).mean()\n"
                 f"    loss.backward()\n    return loss.item()\n")
        parts.append(block)
        size += len(block)
        i += 1
    return "".join(parts)


CASES: Dict[str, Callable[[], str]] = {
    "chain-1k": lambda: chain(1_000),
    "chain-2k": lambda: chain(2_000),
    "chain-10k": lambda: chain(10_000),
    "chain-20k": lambda: chain(20_000),
    "chain-60k": lambda: chain(60_000),
    "nested-blocks": nested_blocks,
    "nested-brackets": nested_brackets,
    "nested-defs": nested_defs,
    "terms-100k": lambda: terms(100_000),
    "module-5mb": lambda: module(5),
}


def parse_seconds(path: Path) -> float:
    """The engine's parse of the file (Python's parser, then libcst's when Python accepts it:
    nesting Python refuses is never given to libcst), in a fresh process."""
    code = ("import ast, sys, time, libcst; s = open(sys.argv[1], encoding='utf-8').read(); "
            "a = time.perf_counter()\ntry:\n    ast.parse(s)\n    libcst.parse_module(s)\nexcept BaseException:\n    pass\n"
            "print(time.perf_counter() - a)")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
        return float(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError, subprocess.TimeoutExpired):
        return 0.0  # the parser crashed or hung: the engine refuses such input before parsing it


def check(path: Path, budget: float, timeout: float) -> tuple:
    command = [sys.executable, "-m", "gradscan", "--no-cache", "--isolated", "-j", "1", "--exit-zero",
               "--output-format", "concise", "-q", "--file-budget", str(budget), str(path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=path.parent, env=env)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None, "timed out"
    wall = time.perf_counter() - started
    codes = sorted({line.split(": ", 2)[1].split()[0] for line in done.stdout.splitlines() if ": GS" in line})
    return wall, done.returncode, ",".join(codes) or "-"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated case names (default: all)")
    parser.add_argument("--budget", type=float, default=10.0, help="--file-budget given to gradscan (default: 10)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)} (known: {', '.join(CASES)})")
    over = 0
    with tempfile.TemporaryDirectory(prefix="gradscan-hostile-") as scratch:
        folder = Path(scratch)
        (folder / "pyproject.toml").write_text("")
        empty = folder / "empty.py"
        empty.write_text("import torch\n")
        startup = min(check(empty, args.budget, 120)[0] for _ in range(3))
        print(f"start-up (an empty file): {startup:.2f} s; budget {args.budget:g} s or 20x the parse")
        print(f"{'case':<16} {'lines':>7} {'bytes':>9} {'parse s':>8} {'bound s':>8} {'wall s':>8}  {'status':<9} findings")
        for name in names:
            path = folder / f"{name.replace('-', '_')}.py"
            text = CASES[name]()
            path.write_text(text, encoding="utf-8")
            parse = parse_seconds(path)
            allowed = max(args.budget, 20 * parse) if args.budget > 0 else float("inf")
            bound = startup + parse + allowed + SLACK
            timeout = bound * 2 + 60 if bound != float("inf") else 3600
            wall, code, found = check(path, args.budget, timeout)
            ok = code is not None and wall <= bound
            over += not ok
            status = "ok" if ok else ("TIMEOUT" if code is None else "OVER")
            print(f"{name:<16} {text.count(chr(10)):>7} {len(text.encode()):>9} {parse:>8.2f} {bound:>8.1f} {wall:>8.2f}  "
                  f"{status:<9} {found}", flush=True)
            path.unlink()
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
