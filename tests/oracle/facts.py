"""docs/facts.md: the framework behaviour the rules cite, read and rewritten here.

Each row is one fact id (as in a rule's `facts`), the fact, the framework versions it was
observed with and the oracle test that proves it. The oracle tier checks the file against the
rules, the proofs and the frameworks installed (tests/oracle/test_facts.py); after a framework
upgrade whose oracle tier passes, `python -m tests.oracle.facts` rewrites the versions column
from what is installed.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
FACTS_DOC = ROOT / "docs" / "facts.md"
HEADER = "| id | fact | observed with | proved by |"
_ROW = re.compile(r"^\| (?P<id>[a-z]{2}\d\d) \| (?P<fact>.*) \| (?P<observed>[^|]*) \| (?P<proofs>[^|]*) \|$")
_VERSIONED = re.compile(r"^(?P<dist>[A-Za-z0-9_.-]+) (?P<version>\S+)$")


@dataclass(frozen=True)
class Fact:
    id: str
    text: str
    observed: Tuple[Tuple[str, str], ...]  # (distribution, version) pairs
    proofs: Tuple[str, ...]  # pytest node ids
    line: int  # in docs/facts.md, 1-based


def parse(text: str) -> Dict[str, Fact]:
    facts: Dict[str, Fact] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        m = _ROW.match(line)
        if m is None:
            continue
        observed = []
        for part in m["observed"].split(","):
            v = _VERSIONED.match(part.strip())
            if v is None:
                raise ValueError(f"docs/facts.md:{number}: `{part.strip()}` is not `distribution version`")
            observed.append((v["dist"], v["version"]))
        proofs = tuple(p.strip().strip("`") for p in m["proofs"].split(",") if p.strip())
        if m["id"] in facts:
            raise ValueError(f"docs/facts.md:{number}: {m['id']} appears twice")
        facts[m["id"]] = Fact(m["id"], m["fact"], tuple(observed), proofs, number)
    return facts


def installed(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def with_installed_versions(text: str) -> str:
    """`text` with every row's versions replaced by the installed ones (left alone when missing)."""
    out: List[str] = []
    for line in text.splitlines(keepends=True):
        m = _ROW.match(line.rstrip("\n"))
        if m is not None:
            parts = []
            for part in m["observed"].split(","):
                v = _VERSIONED.match(part.strip())
                version = installed(v["dist"]) if v else None
                parts.append(f"{v['dist']} {version}" if version else part.strip())
            start, end = m.span("observed")
            line = line[:start] + ", ".join(parts) + line[end:]
        out.append(line)
    return "".join(out)


def main() -> int:
    text = FACTS_DOC.read_text(encoding="utf-8")
    new = with_installed_versions(text)
    if new != text:
        FACTS_DOC.write_text(new, encoding="utf-8")
        print(f"rewrote the versions in {FACTS_DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
