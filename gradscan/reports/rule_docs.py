"""The rule list in README.md and the rule reference docs/rules.md, generated from the registry.

`python -m gradscan.reports.rule_docs` rewrites both; a test fails when either is stale.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from gradscan.rules import all_rules

START, END = "<!-- rules:start -->", "<!-- rules:end -->"


def rules_table() -> str:
    rows = ["| code | name | framework | default | what it finds |", "|---|---|---|---|---|"]
    for r in all_rules():
        default = "on" if r.default_enabled else "off"
        link = f"[{r.code}](docs/rules.md#{r.code.lower()})"
        rows.append(f"| {link} | `{r.name}` | {r.framework} | {default} | {r.summary} |")
    return "\n".join(rows) + "\n"


def rules_reference() -> str:
    parts = ["# Rules\n", "Generated from the rule classes by `python -m gradscan.reports.rule_docs`; "
             "`gradscan explain CODE` prints the same text.\n"]
    for r in all_rules():
        default = "on by default" if r.default_enabled else f"off by default: enable with `--extend-select {r.code}`"
        facts = f"\n\nFacts: {', '.join(r.facts)} ([docs/facts.md](facts.md))." if r.facts else ""
        facts += {"safe": "\n\nFix: safe (applied by `gradscan --fix`).",
                  "unsafe": "\n\nFix: unsafe (applied by `gradscan --fix --unsafe-fixes`)."}.get(r.fix_safety or "", "")
        doc = re.sub(r"^## ", "#### ", r.doc, flags=re.MULTILINE)
        parts.append(f'\n<a id="{r.code.lower()}"></a>\n## {r.code} {r.name}\n\n*{r.framework}, {default}.* {r.summary}.\n\n{doc}{facts}\n')
    return "".join(parts)


def replace_table(readme: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    return pattern.sub(lambda _: f"{START}\n{rules_table()}{END}", readme)


def main(root: Path) -> None:
    readme = root / "README.md"
    readme.write_text(replace_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
    (root / "docs" / "rules.md").write_text(rules_reference(), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
