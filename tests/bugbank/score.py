"""Score gradscan on the bug bank: `python -m tests.bugbank.score [--half test|dev|all] [--markdown]`.

gradscan runs as a user meets it (default rules, through the command line) on every program.
A buggy program is found when a finding lies on one of its `# BUG` lines; a finding on a `# BUG`
line is true, every other finding is false.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

from tests.bugbank.bank import PROGRAMS, Program, half_of, programs, read_split


def findings(paths: List[Path]) -> Dict[Path, List[dict]]:
    proc = subprocess.run(
        [sys.executable, "-m", "gradscan", "--isolated", "--no-cache", "--exit-zero", "--output-format", "json",
         *map(str, paths)],
        capture_output=True, text=True, check=True,
    )
    by_file: Dict[Path, List[dict]] = defaultdict(list)
    for f in json.loads(proc.stdout or "[]"):
        if not f["code"].startswith("GS0"):
            by_file[Path(f["filename"]).resolve()].append(f)
    return by_file


def score(progs: List[Program]) -> Dict[str, Dict[str, float]]:
    """Per group (all, family:..., framework:...): buggy, found, true, false findings."""
    found_by = findings([p.path for p in progs]) if progs else {}
    table: Dict[str, Dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in progs:
        fs = found_by.get(p.path.resolve(), [])
        true = sum(1 for f in fs if f["location"]["row"] in p.bug_lines)
        for group in ("all", f"family:{p.family}", f"framework:{p.framework_folder}"):
            row = table[group]
            row["programs"] += 1
            if p.label == "buggy":
                row["buggy"] += 1
                row["found"] += 1 if true else 0
            row["true"] += true
            row["false"] += len(fs) - true
    return table


def render(table, markdown: bool) -> str:
    out = []
    if markdown:
        out.append("| group | programs | buggy | found | recall | findings | true | precision |")
        out.append("|---|---|---|---|---|---|---|---|")
    for group in sorted(table, key=lambda g: (g != "all", g)):
        r = table[group]
        n = r["true"] + r["false"]
        recall = f"{r['found'] / r['buggy']:.2f}" if r["buggy"] else "-"
        precision = f"{r['true'] / n:.2f}" if n else "-"
        cells = [group, int(r["programs"]), int(r["buggy"]), int(r["found"]), recall, int(n), int(r["true"]), precision]
        out.append(("| " + " | ".join(map(str, cells)) + " |") if markdown else
                   f"{group:28} programs {cells[1]:3}  buggy {cells[2]:3}  found {cells[3]:3}  recall {recall:>4}  "
                   f"findings {cells[5]:3}  true {cells[6]:3}  precision {precision:>4}")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--half", choices=["test", "dev", "all"], default="dev")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--list", action="store_true", help="list the missed buggy programs and the false findings")
    args = ap.parse_args(argv)
    split = read_split()
    progs = [p for p in programs() if args.half == "all" or split.get(p.name, (half_of(p.pair),))[0] == args.half]
    print(render(score(progs), args.markdown))
    if args.list:
        found_by = findings([p.path for p in progs])
        for p in progs:
            fs = found_by.get(p.path.resolve(), [])
            if p.label == "buggy" and not any(f["location"]["row"] in p.bug_lines for f in fs):
                print(f"missed: {p.name}: {p.summary}")
            for f in fs:
                if f["location"]["row"] not in p.bug_lines:
                    print(f"false: {p.name}:{f['location']['row']}: {f['code']} {f['message'][:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
