from __future__ import annotations

from gradscan.rules.base import Rule


class AnalysisIncomplete(Rule):
    code = "GS003"
    name = "analysis-incomplete"
    framework = "any"
    engine = True
    default_enabled = False
    summary = "Some value-flow questions in this file went past their budget and were answered 'unknown' (off by default)"
    message = "analysis incomplete: {count} value-flow question(s) went past their budget; findings may be missing"
    doc = """
    ## What it does
    Reports a file in which the gradient-flow engine gave up on some questions: following one
    value went past `Flow.QUERY_BUDGET` statements, or the whole file past `Flow.FILE_BUDGET`.
    Such a question is answered "unknown", which every rule reads as "stay silent", so the
    file may hide findings. Off by default (it says nothing about your code); turn it on with
    `--extend-select GS003`, or run with `-v`.

    ## Why it matters
    gradscan keeps its analysis near-linear in the size of a file and bounds each question
    rather than hang. Generated code (exported graphs, very long straight-line functions) is
    where the bounds are met.

    ## What to do
    Nothing, usually. If the file is hand-written and you expect findings in it, report it to
    gradscan's issue tracker with the file: the budget may be too small.
    """
