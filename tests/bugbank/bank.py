"""Reading the bug bank: programs, their headers, their `# BUG` lines and their half."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
SPLIT = HERE / "split.txt"
FAMILIES = {"params", "graph", "sampling", "tensorflow", "jax", "loop"}
FRAMEWORKS = {"torch", "lightning", "tensorflow", "tf_keras", "tensorflow_probability", "jax", "flax", "optax", "pyro"}
_FIELD = re.compile(r"^(Source|Label|Family|Frameworks|Twin):\s*(.*)$")
_BUG = re.compile(r"#\s*BUG\b")


@dataclass
class Program:
    path: Path
    summary: str
    sources: List[str]
    label: str
    family: str
    frameworks: List[str]
    bug_lines: Set[int] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.path.relative_to(PROGRAMS).as_posix()

    @property
    def pair(self) -> str:
        """The name shared by a program and its twin: `torch/frozen_head`."""
        return re.sub(r"_(bug|ok)\.py$", "", self.name)

    @property
    def framework_folder(self) -> str:
        return self.path.relative_to(PROGRAMS).parts[0]


def parse(path: Path) -> Program:
    text = path.read_text(encoding="utf-8")
    doc = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', text, re.S)
    if not doc:
        raise ValueError(f"{path}: no docstring header")
    lines = [l.strip() for l in doc.group(1).strip().splitlines()]
    fields: Dict[str, List[str]] = {}
    last = None
    for line in lines[1:]:
        m = _FIELD.match(line)
        if m:
            last = m.group(1)
            fields.setdefault(last, []).append(m.group(2).strip())
        elif last == "Source" and line.startswith("http"):
            fields[last].append(line)
    one = lambda k: (fields.get(k) or [""])[0]
    return Program(
        path=path,
        summary=lines[0] if lines else "",
        sources=[s for s in fields.get("Source", []) if s],
        label=one("Label"),
        family=one("Family"),
        frameworks=[f.strip() for f in one("Frameworks").split(",") if f.strip()],
        bug_lines={i for i, l in enumerate(text.splitlines(), 1) if _BUG.search(l)},
    )


def programs() -> List[Program]:
    return [parse(p) for p in sorted(PROGRAMS.rglob("*.py"))]


def half_of(pair: str) -> str:
    """A pair's half, from a hash of its name alone: decided before anything is measured."""
    return "test" if int(hashlib.sha256(pair.encode()).hexdigest(), 16) % 2 == 0 else "dev"


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_split() -> Dict[str, Tuple[str, Optional[str]]]:
    """name -> (half, sha256 of the file for the test half)."""
    out: Dict[str, Tuple[str, Optional[str]]] = {}
    if not SPLIT.exists():
        return out
    for line in SPLIT.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        out[parts[1]] = (parts[0], parts[2] if len(parts) > 2 else None)
    return out
