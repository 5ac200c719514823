from __future__ import annotations

from gradscan.rules.base import Rule


class UnusedNoqa(Rule):
    """The engine computes it from the findings before `# noqa`; no rule check runs for it."""

    code = "GS010"
    name = "unused-noqa"
    framework = "any"
    engine = True
    default_enabled = False
    severity = "warning"
    summary = "A `# noqa: GS...` comment that silences nothing (off by default)"
    message = "`# noqa` silences nothing here: remove {codes}"
    hint = "delete the code from the comment (or the whole comment)"
    doc = """
    ## What it does
    Reports a `# noqa: ...` comment naming gradscan codes (GS...) of which some silence no
    finding on that line, as ruff's RUF100 does. Only gradscan's codes are considered: a bare
    `# noqa` and the codes of other tools (E501, F401) may serve other tools and are never
    reported. Off by default: `--extend-select GS010`. Not reported through flake8, which applies
    `# noqa` itself.

    ## Why it matters
    A team that adopted gradscan with `--add-noqa` fixes findings over time; a leftover comment
    would silently hide the next bug introduced on that line.

    ## What to do
    Remove the code from the comment, or the comment. `# noqa: GS010` on the line keeps it.
    """
