"""GS0xx: what the engine itself reports. Registered for documentation and selection only."""
from gradscan.rules.base import Rule


class InternalError(Rule):
    code = "GS000"
    name = "internal-error"
    framework = "any"
    engine = True
    summary = "A rule crashed on this file (a bug in gradscan, not in your code)"
    message = "internal error in rule {rule}: {error}"
    doc = """
    ## What it does
    Reports that one of gradscan's own rules raised an exception while checking this file.
    The other rules and files still ran; the exit status is 2.

    ## Why it matters
    A rule that crashed said nothing about the file, so a gradient bug there may be unreported.

    ## What to do
    Run again with `--verbose` to see the traceback and report it with the file (or a reduced
    example) to gradscan's issue tracker. Meanwhile `--ignore` the failing rule for that file.
    """


class UnreadableFile(Rule):
    code = "GS001"
    name = "unreadable-file"
    framework = "any"
    engine = True
    summary = "The file cannot be read, decoded or parsed, so it was not checked"
    message = "{error}"
    doc = """
    ## What it does
    Reports a file that gradscan could not analyse: a syntax error (at the error's position),
    a file that cannot be read, one that cannot be decoded (gradscan honours PEP 263 coding
    cookies and a UTF-8 byte-order mark), or a malformed notebook. The run goes on with the
    other files.

    ## Why it matters
    An unparsable file is not checked at all; gradient bugs in it stay hidden.

    ## What to do
    Fix the syntax error or the encoding, or exclude the file (`--extend-exclude`).
    """


class AnalysisCutShort(Rule):
    code = "GS002"
    name = "analysis-cut-short"
    framework = "any"
    engine = True
    summary = "The file's analysis went over its time budget and was cut short"
    message = "analysis cut short: {reason}"
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
