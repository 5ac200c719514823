"""Output formats: concise (flake8's line), full, json, github, sarif; and --statistics."""
from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from pathlib import Path, PurePath
from urllib.parse import quote
from typing import Callable, Dict, List, Optional

from gradscan import __version__
from gradscan.findings import Finding
from gradscan.rules import REGISTRY

FORMATS = ("concise", "full", "json", "github", "sarif")


def _rule(code: str):
    return REGISTRY.get(code)


def severity(code: str) -> str:
    """"error" or "warning": the one mapping the LSP server, `github` and `sarif` share."""
    rule = REGISTRY.get(code)
    return rule.severity if rule is not None else "error"


def _explanation(text: str) -> str:
    """The rule's why under a finding, wrapped so that the short message stays the one long line."""
    return "\n".join(textwrap.wrap(text, width=100, initial_indent="    why: ", subsequent_indent="         ")) + "\n"


# ANSI styles of the human formats (ruff's palette: bold location, bold red code, red underline).
_BOLD, _RED, _CYAN, _RESET = "\x1b[1m", "\x1b[1;31m", "\x1b[36m", "\x1b[0m"


def _head(f: Finding, color: bool) -> str:
    if not color:
        return f"{f.location()}: {f.code} {f.message}\n"
    return f"{_BOLD}{f.location()}{_RESET}: {_RED}{f.code}{_RESET} {f.message}\n"


def concise(findings: List[Finding], sources=None, color: bool = False) -> str:
    return "".join(_head(f, color) for f in findings)


def underline(line: str, f: Finding) -> str:
    """The marker line under `line`: carets under the reported range (to the end of the line
    when the range goes on below), at least one; tabs before it kept so that it lines up."""
    text = line.rstrip("\r\n")
    start = max(f.col - 1, 0)
    if f.end_line and f.end_line > f.line:
        end = len(text.rstrip())
    elif f.end_line == f.line and f.end_col > f.col:
        end = min(f.end_col - 1, len(text))
    else:
        end = start + 1
    prefix = "".join(ch if ch == "\t" else " " for ch in text[:start])
    return prefix + "^" * max(end - start, 1)


def full(findings: List[Finding], sources: Optional[Callable[[Finding], str]] = None, color: bool = False) -> str:
    out = []
    for f in findings:
        out.append(_head(f, color))
        line = sources(f) if sources else ""
        if line:
            out.append(f"    {line.rstrip()}\n")
            marks = underline(line, f)
            if color:
                blank = len(marks) - len(marks.lstrip(" \t"))
                marks = f"{marks[:blank]}{_RED}{marks[blank:]}{_RESET}"
            out.append(f"    {marks}\n")
        rule = _rule(f.code)
        if rule is not None and rule.explanation:
            out.append(_explanation(rule.explanation))
        edit = _fix_diff(f, sources)
        if edit:  # the concrete edit, rather than the rule's general advice
            safety = f" ({rule.fix_safety})" if rule is not None and rule.fix_safety else ""
            out.append(f"    fix{safety}: {f.fix.message}\n")
            out.append("".join(f"    {l}\n" for l in edit.splitlines()))
        elif rule is not None and rule.hint:
            out.append(f"    {_CYAN}help{_RESET}: {rule.hint}\n" if color else f"    help: {rule.hint}\n")
        if f.detail:
            out.append("".join(f"    {l}\n" for l in f.detail.rstrip().splitlines()))
        out.append("\n")
    return "".join(out)


def _fix_diff(f: Finding, sources) -> str:
    if f.fix is None or sources is None or not hasattr(sources, "line"):
        return ""
    from gradscan.fixes import finding_diff

    return finding_diff(f, lambda cell, n: sources.line(f.path, cell, n) or None)


def as_json(findings: List[Finding], sources=None) -> str:
    items = []
    for f in findings:
        rule = _rule(f.code)
        fix = None
        if f.fix is not None:
            fix = {
                "message": f.fix.message,
                "applicability": rule.fix_safety if rule else None,  # safe: --fix; unsafe: --unsafe-fixes
                "edits": [{
                    "content": f.fix.replacement,
                    "location": {"row": f.fix.line, "column": f.fix.col},
                    "end_location": {"row": f.fix.end_line, "column": f.fix.end_col},
                }],
            }
        items.append({
            "filename": f.path,
            "cell": f.cell,
            "code": f.code,
            "message": f.message,
            "location": {"row": f.line, "column": f.col},
            "end_location": {"row": f.end_line or f.line, "column": f.end_col or f.col},
            "rule": rule.name if rule else None,
            "explanation": rule.explanation if rule and rule.explanation else None,
            "fix": fix,
            "url": rule.url() if rule and not rule.engine else None,
        })
    return json.dumps(items, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(findings: List[Finding], sources=None) -> str:
    out = []
    for f in findings:
        cell = f" (cell {f.cell})" if f.cell is not None else ""
        props = (
            f"file={_escape_prop(f.path)},line={f.line},col={f.col},"
            f"endLine={f.end_line or f.line},endColumn={f.end_col or f.col},"
            f"title={_escape_prop(f'gradscan ({f.code})')}"
        )
        out.append(f"::{severity(f.code)} {props}::{_escape_data(f'{f.code} {f.message}{cell}')}\n")
    return "".join(out)


def _uri(path: str) -> str:
    """A SARIF artifact URI: relative paths percent-encoded (GitHub resolves them against the
    repository root), absolute ones as file:// URIs."""
    p = PurePath(path)
    if p.is_absolute():
        return Path(path).as_uri()
    return quote(os.fsencode(path.replace("\\", "/")), safe="/")  # fsencode: names that are not UTF-8


def sarif(findings: List[Finding], sources=None) -> str:
    rules = [REGISTRY[c] for c in sorted(REGISTRY)]
    index = {r.code: i for i, r in enumerate(rules)}
    driver_rules = []
    for r in rules:
        entry = {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.explanation or r.summary},
            "help": {"text": r.doc or r.summary, "markdown": r.doc or r.summary},
            "defaultConfiguration": {"enabled": bool(r.default_enabled), "level": r.severity},
            "properties": {"framework": r.framework, "tags": ["gradient", r.framework], "fix": r.fix_safety},
        }
        if not r.engine:
            entry["helpUri"] = r.url()
        driver_rules.append(entry)
    results = []
    for f in findings:
        cell = f" (cell {f.cell})" if f.cell is not None else ""
        result = {
            "ruleId": f.code,
            "ruleIndex": index.get(f.code, 0),
            "level": severity(f.code),
            "message": {"text": f"{f.message}{cell}"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.path)},
                    "region": {
                        "startLine": f.line,
                        "startColumn": f.col,
                        "endLine": max(f.end_line or f.line, f.line),
                        "endColumn": f.end_col or f.col,
                    },
                }
            }],
        }
        if f.fix is not None and f.cell is None:
            # A notebook's fix is in cell coordinates, which are not the artifact's (its JSON): left out.
            result["fixes"] = [{
                "description": {"text": f.fix.message},
                "artifactChanges": [{
                    "artifactLocation": {"uri": _uri(f.path)},
                    "replacements": [{
                        "deletedRegion": {"startLine": f.fix.line, "startColumn": f.fix.col,
                                          "endLine": f.fix.end_line, "endColumn": f.fix.end_col},
                        "insertedContent": {"text": f.fix.replacement},
                    }],
                }],
            }]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gradscan",
                "version": __version__,
                "informationUri": "https://github.com/gradscan/gradscan",
                "rules": driver_rules,
            }},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"


def statistics(findings: List[Finding], fmt: str = "concise") -> str:
    """A count per rule code, most frequent first, and the total (JSON with --output-format json)."""
    counts = Counter(f.code for f in findings)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if fmt == "json":
        return json.dumps({
            "rules": [{"code": code, "name": _rule(code).name if _rule(code) else None, "count": n} for code, n in rows],
            "total": len(findings),
        }, indent=2) + "\n"
    out = []
    for code, n in rows:
        rule = _rule(code)
        out.append(f"{n:>5}\t{code}\t{rule.name if rule else ''}\n")
    out.append(f"{len(findings):>5}\ttotal\n")
    return "".join(out)


def summary(findings: List[Finding], files: int) -> str:
    """The closing line of a run, on standard error (ruff's shape)."""
    nfiles = f"{files:,} file{'s' if files != 1 else ''}"
    if not findings:
        return f"All checks passed: {nfiles}."
    n, paths = len(findings), len({f.path for f in findings})
    return f"Found {n:,} problem{'s' if n != 1 else ''} in {paths:,} of {nfiles}."


FORMATTERS: Dict[str, Callable] = {"concise": concise, "full": full, "json": as_json, "github": github, "sarif": sarif}


def render(fmt: str, findings: List[Finding], sources=None, color: bool = False) -> str:
    if fmt in ("concise", "full"):
        return FORMATTERS[fmt](findings, sources, color=color)
    return FORMATTERS[fmt](findings, sources)  # machine formats are never coloured


def use_color(choice: str, stream) -> bool:
    """--color: `always` and `never` win; in `auto`, a non-empty NO_COLOR turns colour off, then a
    FORCE_COLOR other than empty or 0 turns it on, else colour only when `stream` is a terminal."""
    if choice in ("always", "never"):
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
