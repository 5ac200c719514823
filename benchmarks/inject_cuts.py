"""Recall of GS2xx on real model code: inject one graph cut per file and check it is reported.

For the first `name = self.<layer>(...)` statement of a `forward` in each of the first N files
of a folder, append `.detach()` (or `.data`, or wrap the statement in `with torch.no_grad():`),
run the GS2 rules on the changed text (single-file mode: bases in other files are unknown) and
count the files where the injected line is reported. Used by docs/evaluation.md (GS2xx section);
benchmarks/mutate.py generalises it to every rule family (the mutation tier).

    python benchmarks/inject_cuts.py ~/.cache/gradscan-bench/timm-1.0.31/timm/models detach 40
"""
from __future__ import annotations

import glob
import re
import sys

from gradscan.engine import check_source

_DEF = re.compile(r"^(\s*)def (\w+)\(self")
_STMT = re.compile(r"^(\s+)(\w+) = (self\.\w+\([^()]*\))\s*$")


def candidates(lines):
    in_forward, indent = False, 0
    for i, line in enumerate(lines):
        m = _DEF.match(line)
        if m:
            in_forward, indent = m.group(2) == "forward", len(m.group(1))
            continue
        stripped = line.strip()
        if in_forward and stripped and len(line) - len(line.lstrip()) <= indent and not stripped.startswith((")", "#", "@")):
            in_forward = False
        if in_forward:
            m = _STMT.match(line)
            if m:
                yield i, m


def inject(line_match, kind: str) -> str:
    ws, name, call = line_match.groups()
    if kind == "detach":
        return f"{ws}{name} = {call}.detach()"
    if kind == "data":
        return f"{ws}{name} = {call}.data"
    return f"{ws}with torch.no_grad():\n{ws}    {name} = {call}"


def main(folder: str, kind: str, limit: int) -> None:
    hit, misses = 0, []
    for path in sorted(glob.glob(f"{folder}/**/*.py", recursive=True)):
        if hit + len(misses) >= limit:
            break
        text = open(path, errors="replace").read()
        if "import torch" not in text:
            continue
        lines = text.splitlines()
        first = next(candidates(lines), None)
        if first is None:
            continue
        i, m = first
        lines[i] = inject(m, kind)
        found = [f for f in check_source("\n".join(lines) + "\n", path=path, select=["GS2"]) if f.line == i + 1]
        if found:
            hit += 1
        else:
            misses.append(f"{path}:{i + 1}: {lines[i].strip()}")
    print(f"{kind}: reported {hit} / {hit + len(misses)}")
    for miss in misses:
        print("  missed", miss)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "detach", int(sys.argv[3]) if len(sys.argv) > 3 else 40)
