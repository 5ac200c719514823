"""Append programs not yet in split.txt (existing lines never move): `python -m tests.bugbank.split`."""
from __future__ import annotations

from tests.bugbank.bank import SPLIT, file_hash, half_of, programs, read_split

HEADER = "# half  program  sha256 (test half: frozen; a test fails if the file changes)\n"


def main() -> None:
    known = read_split()
    lines = SPLIT.read_text().splitlines(keepends=True) if SPLIT.exists() else [HEADER]
    added = 0
    for p in programs():
        if p.name in known:
            continue
        half = half_of(p.pair)
        lines.append(f"{half} {p.name} {file_hash(p.path)}\n" if half == "test" else f"dev {p.name}\n")
        added += 1
    SPLIT.write_text("".join(lines))
    print(f"{added} program(s) added to {SPLIT.name}")


if __name__ == "__main__":
    main()
