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
