"""The rule framework: a rule is a small class that holds its code, documentation and examples.

Subclassing `Rule` registers the rule (no hand-kept list). A rule's `check` receives the
file's semantic model and yields `Report`s naming the offending node; the engine turns them
into positioned findings, applies noqa and per-file-ignores, and sorts them.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Dict, Iterator, Optional, Tuple, Type

import libcst as cst

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel

REGISTRY: Dict[str, Type["Rule"]] = {}

DOCS_URL = "https://github.com/gradscan/gradscan/blob/main/docs/rules.md#{code}"


@dataclass
class Report:
    node: cst.CSTNode
    message: Optional[str] = None  # defaults to the rule's message
    # (node to replace, replacement: code, or a node rendered in the node's place, fix title)
    fix: Optional[Tuple[cst.CSTNode, object, str]] = None


def clip(text: str, limit: int = 28) -> str:
    """Source text quoted in a message, on one line and cut to `limit` characters, so that a
    long expression cannot make the message long."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    framework: ClassVar[str]  # torch, tensorflow, jax, any
    summary: ClassVar[str]  # one line, for `gradscan rules`
    # The finding's first line (concise output, editors, JSON `message`): what is wrong here and
    # what to do, short (tests hold every message to 120 characters, most are under 90).
    message: ClassVar[str]  # default finding message
    # Why it breaks gradients, in a sentence or two: shown under the finding by
    # --output-format full, as JSON's `explanation` and SARIF's rule fullDescription.
    explanation: ClassVar[str] = ""
    hint: ClassVar[str] = ""  # one-line "use instead", shown by --output-format full
    facts: ClassVar[Tuple[str, ...]] = ()  # ids in docs/facts.md
    default_enabled: ClassVar[bool] = True
    # A file that contains none of these substrings cannot trigger the rule: it is not parsed for it.
    triggers: ClassVar[Tuple[str, ...]] = ()
    # ruff-shaped documentation: what it does, why it breaks gradients, example, use instead, references.
    doc: ClassVar[str] = ""
    # Fixit-style examples, run by the test suite: each `invalid` source marks the expected lines
    # with a trailing `# error: CODE`; each `valid` source must produce no finding of this rule.
    invalid: ClassVar[Tuple[str, ...]] = ()
    valid: ClassVar[Tuple[str, ...]] = ()
    engine: ClassVar[bool] = False  # GS0xx codes: reported by the engine itself
    # The level of every output that has levels (LSP diagnostics, GitHub annotations, SARIF):
    # "error" for what breaks gradients or keeps a file from being checked, "warning" for hygiene.
    severity: ClassVar[str] = "error"
    # What applying the rule's fix (`Report.fix`) does: "safe" (only the gradient bug changes,
    # applied by --fix), "unsafe" (it may change behaviour beyond that, e.g. the random stream:
    # applied with --unsafe-fixes), or None (the rule computes no fix).
    fix_safety: ClassVar[Optional[str]] = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if code is None:  # an abstract intermediate class
            return
        if code in REGISTRY and REGISTRY[code] is not cls:
            raise RuntimeError(f"rule code {code} registered twice ({REGISTRY[code].__name__}, {cls.__name__})")
        cls.doc = textwrap.dedent(cls.doc).strip()
        cls.invalid = tuple(textwrap.dedent(s).lstrip("\n") for s in cls.invalid)
        cls.valid = tuple(textwrap.dedent(s).lstrip("\n") for s in cls.valid)
        REGISTRY[code] = cls

    def check(self, model: "FileModel") -> Iterator[Report]:
        raise NotImplementedError
        yield  # pragma: no cover

    @classmethod
    def url(cls) -> str:
        return DOCS_URL.format(code=cls.code.lower())

