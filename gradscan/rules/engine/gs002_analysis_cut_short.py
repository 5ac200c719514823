from __future__ import annotations

from gradscan.rules.base import Rule


class AnalysisCutShort(Rule):
    code = "GS002"
    name = "analysis-cut-short"
    framework = "any"
    engine = True
    summary = "The file's analysis went over its time budget and was cut short"
    message = "analysis cut short: {reason}"
    explanation = (
        "A file may take `file-budget` seconds (default 10), or 20 times its parse time if longer: the "
        "findings of the rules that did not finish are missing. Exclude generated code, or raise --file-budget."
    )
    doc = """
    ## What it does
    Reports a file whose analysis took longer than its time budget: `file-budget` seconds
    (default 10), or 20 times the time it took to parse the file if that is longer. The
    analysis of that file stops; the findings of the rules that ran until then are reported
    with this one, which names the rules that did not finish. The run goes on with the other
    files. A worker process that stops answering altogether (stuck in native code) is stopped
    and its file reported the same way.

    ## Why it matters
    A file cut short was only partly checked: gradient bugs the unfinished rules would have
    found there are not reported. It is never passed in silence. Results of a cut-short file
    are not cached, so the next run tries again.

    ## What to do
    Generated code (exported graphs, converted models, long tables) is the usual cause: exclude
    it (`--extend-exclude`). Otherwise give files more time (`--file-budget 60`, or
    `file-budget = 60` in `[tool.gradscan]`; 0 means no limit), and report the file to
    gradscan's issue tracker: the analysis is meant to take time proportional to the file.
    """
