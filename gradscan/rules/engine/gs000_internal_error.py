from __future__ import annotations

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
