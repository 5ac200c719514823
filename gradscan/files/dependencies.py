"""Which Keras a project runs, from what it declares: its requirements files, `pyproject.toml`,
`setup.py`/`setup.cfg`, `environment.yml`, and a notebook's `pip install` lines.

Since TensorFlow 2.16 `tf.keras` is Keras 3 (fact tf45); TensorFlow 2.15 and earlier, a `keras`
pinned below 3, or `tf-keras` declared without a newer TensorFlow mean legacy Keras 2. The
files are read as text (never executed); the first declaration that decides wins, and the
answer names where it was read, so that a finding can say which Keras it assumed and why.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

# A requirement: the package, then an optional version specifier (`tensorflow==2.15.0`,
# `tensorflow-cpu>=2.12,<2.16`, `keras~=2.13`, `tf_keras`).
_REQUIREMENT = re.compile(
    r"""(?<![\w.-])(tf[-_]keras|tensorflow(?:[-_](?:cpu|gpu|macos|intel))?|keras)(?![\w.-])
        \s*(?:\[[^\]]*\])?\s*((?:[<>=!~]=?\s*[\d.*]+\s*,?\s*)*)""",
    re.IGNORECASE | re.VERBOSE,
)
_CLAUSE = re.compile(r"([<>=!~]=?)\s*([\d.*]+)")
PROJECT_FILES = ("requirements.txt", "pyproject.toml", "setup.py", "setup.cfg", "environment.yml", "environment.yaml")
KERAS3_TF = (2, 16)


def _version(text: str) -> Tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def _below(spec: str, bound: Tuple[int, ...]) -> Optional[bool]:
    """Whether every version `spec` allows is below `bound` (True), none is (False), or it
    cannot be told (None)."""
    clauses = _CLAUSE.findall(spec)
    if not clauses:
        return None
    for op, version in clauses:
        v = _version(version)
        if not v:
            continue
        if op in ("==", "~=", "==="):
            # `~=2.15` and `==2.15.*` stay in 2.15; `~=2.15.0` too
            return v[: len(bound)] < bound
        if op in ("<", "<="):
            if v <= bound if op == "<" else v < bound:
                return True
        if op in (">", ">="):
            if v >= bound:
                return False
    return None


def keras_from_text(text: str, where: str) -> Optional[Tuple[str, str]]:
    """("legacy" or "3", reason) from the requirements declared in `text`, or None."""
    tf_keras = None
    for match in _REQUIREMENT.finditer(text):
        name, spec = match.group(1).lower().replace("_", "-"), match.group(2) or ""
        shown = f"{where}: {' '.join((match.group(1) + spec).split())}"
        if name.startswith("tensorflow"):
            below = _below(spec, KERAS3_TF)
            if below is True:
                return "legacy", shown
            if below is False:
                return "3", shown
        elif name == "keras":
            below = _below(spec, (3,))
            if below is True:
                return "legacy", shown
            if below is False:
                return "3", shown
        elif name == "tf-keras" and tf_keras is None:
            tf_keras = shown
    if tf_keras is not None:
        return "legacy", tf_keras
    return None


def declared_keras(root: Path) -> Optional[Tuple[str, str]]:
    """The Keras a project's files declare: ("legacy" or "3", "requirements.txt: tensorflow==2.15")."""
    for path in _declaration_files(root):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")[:200_000]
        except OSError:
            continue
        found = keras_from_text(_requirement_text(path, text), path.relative_to(root).as_posix())
        if found is not None:
            return found
    return None


def notebook_keras(lines: Iterable[str], where: str) -> Optional[Tuple[str, str]]:
    """The Keras a notebook installs with `!pip install ...` / `%pip install ...`."""
    pip = [line for line in lines if re.match(r"\s*[!%]+\s*(?:python\d?\s+-m\s+)?pip3?\s+install\b", line)]
    return keras_from_text("\n".join(pip), where) if pip else None


def _declaration_files(root: Path) -> List[Path]:
    out = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    try:
        out += sorted(p for p in root.glob("requirements*.txt") if p.is_file() and p not in out)
        folder = root / "requirements"
        if folder.is_dir():
            out += sorted(p for p in folder.glob("*.txt") if p.is_file())
    except OSError:
        pass
    return out


def _requirement_text(path: Path, text: str) -> str:
    """The part of a file that lists requirements: a requirements file's lines without
    comments; the other formats whole (their strings hold the requirements)."""
    if path.suffix == ".txt":
        return "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return text
