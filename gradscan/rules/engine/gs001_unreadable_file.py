from __future__ import annotations

from gradscan.rules.base import Rule


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
