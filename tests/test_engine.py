"""The engine as a library: check_source / check_file / check_bytes, noqa with flake8's syntax
and meaning, skip-file, GS000 and GS001, decoding, per-file-ignores, the rule registry (issue 2)."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import gradscan
from gradscan import engine
from gradscan.config import ConfigError, Settings
from gradscan.engine import check_bytes, check_file, check_source
from gradscan.files.source import SourceError, decode_python, split_lines
from gradscan.rules import REGISTRY, Report, Rule, all_rules
from tests.cli_support import BAD, temporary_rule

SEL = ["GS101", "GS107"]

MODULE = """\
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True){comment}
"""


def found(source: str, **kwargs):
    return [(f.line, f.col, f.code) for f in check_source(source, path="m.py", select=kwargs.pop("select", SEL), **kwargs)]


def test_check_source_is_the_library_entry_point():
    findings = gradscan.check_source(BAD, path="pkg/m.py", select=SEL)
    assert [(f.path, f.line, f.col, f.code) for f in findings] == [
        ("pkg/m.py", 7, 18, "GS101"), ("pkg/m.py", 8, 18, "GS101"), ("pkg/m.py", 9, 16, "GS107")]
    first = findings[0]
    assert (first.end_line, first.end_col) == (7, 52) and first.cell is None
    assert first.message == REGISTRY["GS101"].message


def test_check_source_rejects_an_unknown_selector():
    with pytest.raises(ConfigError):
        check_source(BAD, select=["GS9"])


def test_check_source_select_replaces_a_configured_selection():
    settings = Settings(select=["GS107"], ignore=["GS101"])
    assert {f.code for f in check_source(BAD, settings=settings)} == {"GS107"}
    assert {f.code for f in check_source(BAD, settings=settings, select=["GS101"])} == {"GS101"}


# --- noqa -------------------------------------------------------------------------------------

@pytest.mark.parametrize("comment, silenced", [
    ("  # noqa", True),
    ("  # noqa: GS101", True),
    ("  # noqa:GS101", True),
    ("  #noqa:GS101", True),
    ("  # NOQA: gs101", True),
    ("  # NoQa:GS101", True),
    ("  # noqa: GS1", True),  # a prefix, as in flake8
    ("  # noqa: E501,GS101", True),
    ("  # noqa: E501 GS101", True),
    ("  # noqa: E501, W291, GS101", True),
    ("  # noqa:GS101,", True),
    ("  # type: ignore  # noqa: GS101", True),
    ("  # noqa : GS101", True),  # not the codes syntax: a bare noqa, as flake8 reads it
    ("  # noqa - this is fine", True),
    ("  # noqa: E501", False),  # codes of other tools are not ours
    ("  # noqa: GS107", False),
    ("  # noqa: GS1011", False),
    ("  # noqa: GS2", False),
    ("", False),
    ("  # this is not a noqa: GS101 comment", False),
])
def test_noqa_with_flake8s_syntax(comment, silenced):
    source = MODULE.format(comment=comment)
    assert (found(source) == []) is silenced, found(source)
    assert found(source, disable_noqa=True) == [(7, 18, "GS101")], "--disable-noqa shows what was silenced"


def test_noqa_applies_to_its_line_only():
    source = MODULE.format(comment="") + "        self.v = torch.randn(3, requires_grad=True)  # noqa\n"
    assert found(source) == [(7, 18, "GS101")]


def test_noqa_on_another_line_of_a_bracketed_statement_does_not_apply():
    """As in flake8: the physical line of the finding (lines inside brackets are separate)."""
    source = MODULE.format(comment="").replace(
        "torch.randn(3, requires_grad=True)", "torch.randn(\n            3, requires_grad=True)  # noqa")
    assert found(source) == [(7, 18, "GS101")]
    on_first = MODULE.format(comment="").replace(
        "torch.randn(3, requires_grad=True)", "torch.randn(  # noqa: GS101\n            3, requires_grad=True)")
    assert found(on_first) == []


def test_noqa_at_the_end_of_a_multi_line_string_or_continuation_covers_it():
    """flake8 joins the lines of a multi-line string and of a backslash continuation."""
    string = MODULE.format(comment='; doc = """\n        """  # noqa')
    assert found(string) == []
    assert found(string, disable_noqa=True) == [(7, 18, "GS101")]
    continued = MODULE.format(comment="").replace(
        "        self.w = torch.randn(3, requires_grad=True)", "        self.w = torch.randn(3, requires_grad=True) \\\n            if True else None  # noqa: GS101")
    assert found(continued) == []


def test_line_numbers_ignore_characters_that_splitlines_treats_as_breaks():
    """A form feed (or \\x1c, \\x85, \\u2028) is not a line break for Python: noqa and positions agree."""
    for odd in ("\x0c", "\x1c", "\x85", "\u2028"):
        source = MODULE.format(comment="  # noqa: GS101").replace("import torch\n", f"import torch  # {odd}\n", 1)
        source += "        self.v = torch.randn(3, requires_grad=True)\n"
        assert found(source) == [(8, 18, "GS101")], repr(odd)
    assert split_lines("a\x0cb\r\nc\rd\ne\n") == ["a\x0cb", "c", "d", "e"]


def test_crlf_positions_and_noqa():
    source = MODULE.format(comment="  # noqa").replace("\n", "\r\n") + "        self.v = torch.randn(3, requires_grad=True)\r\n"
    assert found(source) == [(8, 18, "GS101")]


# --- skip-file --------------------------------------------------------------------------------

@pytest.mark.parametrize("marker", ["# gradscan: skip-file", "#gradscan:skip-file", "# GRADSCAN: Skip-File", "    # gradscan: skip-file"])
def test_skip_file(marker):
    source = BAD + f"\nif True:\n{marker}\n    pass\n" if marker.startswith(" ") else f"{marker}\n" + BAD
    assert found(source) == []
    assert len(found(source, disable_noqa=True)) == 3


def test_skip_file_must_be_a_comment_of_its_own():
    assert len(found(BAD + "x = 1  # gradscan: skip-file\n")) == 3
    assert len(found(BAD + "# gradscan: skip-filesystem\n")) == 3


def test_skip_file_silences_a_syntax_error_too():
    assert found("# gradscan: skip-file\ndef f(:\n") == []


# --- GS001 and GS000 ------------------------------------------------------------------------------

def test_syntax_error_is_gs001_at_pythons_position_without_warnings():
    source = "import torch\nx = '\\d'\nw = torch.zeros(3, requires_grad=True)\nif x\n    pass\n"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "m.py", "exec")
    except SyntaxError as exc:
        expected = [(exc.lineno, exc.offset, "GS001", f"syntax error: {exc.msg}")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SyntaxWarning / DeprecationWarning escapes
        for select in (SEL, ["GS001"]):  # the full parse, and the syntax-only check
            findings = check_source(source, path="m.py", select=select)
            assert [(f.line, f.col, f.code, f.message) for f in findings] == expected


# Nesting Python itself refuses (its parser's limits) overflows libcst's native parser, which
# kills the process; each case runs in a child process so a regression fails instead of crashing.
@pytest.mark.parametrize("body", ["-" * 20000 + "t", "(" * 5000 + "t" + ")" * 5000, "t" + "()" * 20000, "+".join(["t"] * 20000)],
                         ids=["unary", "brackets", "calls", "binary-chain"])
def test_nesting_python_refuses_is_gs001_not_a_crash(body):
    import subprocess
    import sys

    source = f"import torch\nclass M(torch.nn.Module):\n    def forward(self, t):\n        x = {body}\n        return x.detach()\n"
    script = ("import sys; from gradscan import check_source\n"
              "print([(f.code, f.message) for f in check_source(sys.stdin.read(), path='deep.py')])")
    done = subprocess.run([sys.executable, "-c", script], input=source, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the check died (exit {done.returncode}): {done.stderr[-500:]}"
    findings = eval(done.stdout)
    assert [code for code, _ in findings] == ["GS001"], findings
    assert "nested" in findings[0][1]


def test_gs001_can_be_ignored():
    assert found("def f(:\n", select=None, settings=Settings(select=SEL, ignore=["GS001"])) == []
    assert found("def f(:\n", select=None, settings=Settings(select=SEL)) == [(1, 7, "GS001")]


def test_crashing_rule_is_gs000_and_the_other_rules_still_run():
    with temporary_rule(crash=True) as crash:
        findings = check_source(BAD, path="m.py", select=[*SEL, crash.code])
    assert [(f.line, f.code) for f in findings] == [(1, "GS000"), (7, "GS101"), (8, "GS101"), (9, "GS107")]
    gs000 = findings[0]
    assert gs000.message == f"internal error in rule {crash.code}: ValueError: boom from a test-only rule"
    assert "Traceback (most recent call last)" in gs000.detail and "boom" in gs000.detail


def test_gs000_is_reported_whatever_the_selection():
    with temporary_rule(crash=True) as crash:
        findings = check_source(BAD, path="m.py", settings=Settings(select=[crash.code], extend_ignore=["GS0"]))
    assert [f.code for f in findings] == ["GS000"]


def test_a_bug_in_the_semantic_model_is_gs000(monkeypatch):
    from gradscan.semantics import model

    def broken(*args, **kwargs):
        raise KeyError("model")

    monkeypatch.setattr(model.FileModel, "build", classmethod(lambda cls, *a, **k: broken()))
    findings = check_source(BAD, path="m.py", select=SEL)
    assert [(f.code, f.message) for f in findings] == [("GS000", "internal error in the semantic model: KeyError: 'model'")]


def test_a_bug_anywhere_in_the_engine_is_gs000_for_that_file_only(tmp_path, monkeypatch):
    path = tmp_path / "m.py"
    path.write_text(BAD)

    def broken(text):
        raise RuntimeError("noqa exploded")

    monkeypatch.setattr(engine.noqa, "noqa_lines", broken)
    findings = check_file(path, "m.py", Settings(select=SEL))
    assert [(f.code, f.message) for f in findings] == [("GS000", "internal error while checking the file: RuntimeError: noqa exploded")]
    assert "noqa exploded" in findings[0].detail


def test_rules_are_skipped_when_their_triggers_are_absent():
    with temporary_rule(crash=True, trigger="a_word_not_in_the_file") as crash:
        assert check_source(BAD, path="m.py", select=[*SEL, crash.code])[0].code == "GS101"


def test_the_same_finding_is_reported_once():
    class Twice(Rule):
        code = "GS198" if "GS198" not in REGISTRY else "GS197"
        name = "test-only-twice"
        framework = "any"
        summary = message = hint = "twice"
        triggers = ("torch",)

        def check(self, model):
            for call in model.calls:
                yield Report(call[0])
                yield Report(call[0])

    try:
        findings = check_source("import torch\ntorch.zeros(3)\n", select=[Twice.code])
        assert [(f.line, f.col, f.code) for f in findings] == [(2, 1, Twice.code)]
    finally:
        REGISTRY.pop(Twice.code, None)


# --- reading files ------------------------------------------------------------------------------

def test_decoding_follows_pep_263_and_the_bom():
    assert decode_python("# -*- coding: latin-1 -*-\nx = 'caf\xe9'\n".encode("latin-1")).endswith("x = 'caf\xe9'\n")
    assert decode_python(b"\xef\xbb\xbfx = 1\n") == "x = 1\n"
    assert decode_python("# vim: set fileencoding=cp1252 :\nx = '\u20ac'\n".encode("cp1252")).endswith("'\u20ac'\n")
    with pytest.raises(SourceError) as exc:
        decode_python(b"x = 1\ny = '\xff'\n")
    assert (exc.value.line, exc.value.col) == (2, 6)
    with pytest.raises(SourceError, match="unknown encoding"):
        decode_python(b"# coding: nope\n")
    with pytest.raises(SourceError, match="encoding problem"):
        decode_python(b"\xef\xbb\xbf# coding: latin-1\n")  # a BOM and a different cookie
    with pytest.raises(SourceError, match="NUL"):
        decode_python(b"x = 1\x00\n")


@pytest.mark.parametrize("data, expected", [
    (b"", []),
    (b"\xef\xbb\xbf", []),
    (b"\n\n", []),
    ("# -*- coding: latin-1 -*-\n# caf\xe9\n".encode("latin-1") + BAD.encode(), [(9, "GS101"), (10, "GS101"), (11, "GS107")]),
    (b"\xef\xbb\xbf" + BAD.encode(), [(7, "GS101"), (8, "GS101"), (9, "GS107")]),
    (bytes(range(256)), [(1, "GS001")]),
    (b"import torch\nx = '\xe9'\n", [(2, "GS001")]),
])
def test_check_bytes_and_check_file(tmp_path, data, expected):
    settings = Settings(select=SEL)
    assert [(f.line, f.code) for f in check_bytes(data, "m.py", settings)] == expected
    path = tmp_path / "m.py"
    path.write_bytes(data)
    assert [(f.line, f.code) for f in check_file(path, "m.py", settings)] == expected


def test_an_unreadable_file_is_gs001(tmp_path):
    missing = tmp_path / "gone.py"
    findings = check_file(missing, "gone.py", Settings(select=SEL))
    assert [(f.code, f.message.split(":")[0]) for f in findings] == [("GS001", "cannot read file")]


def test_per_file_ignores_in_the_engine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(select=SEL, per_file_ignores={"tests/*.py": ["GS101"], "conftest.py": ["GS1"]}, root=tmp_path)
    assert {f.code for f in check_source(BAD, path="tests/test_m.py", settings=settings)} == {"GS107"}
    assert {f.code for f in check_source(BAD, path="sub/conftest.py", settings=settings)} == set()
    assert {f.code for f in check_source(BAD, path="src/m.py", settings=settings)} == {"GS101", "GS107"}
    assert {f.code for f in check_source(BAD, path=str(tmp_path / "tests" / "x.py"), settings=settings)} == {"GS107"}


# --- the rule registry ------------------------------------------------------------------------------

def test_rules_register_themselves_and_codes_are_unique():
    with temporary_rule() as rule:
        assert rule in all_rules() and REGISTRY[rule.code] is rule
        with pytest.raises(RuntimeError, match="registered twice"):
            type("Again", (Rule,), {"code": rule.code, "name": "again"})
    assert rule.code not in REGISTRY


def test_codes_are_banded():
    for rule in all_rules():
        assert rule.code[:2] == "GS" and rule.code[2:].isdigit() and len(rule.code) == 5, rule.code
        assert rule.code[2] in "0123456", f"{rule.code} is outside the bands GS0xx..GS6xx"
        assert rule.engine == rule.code.startswith("GS0"), rule.code


def test_a_rule_reporting_a_node_of_another_tree_is_gs000_and_the_rest_survives():
    import libcst as cst

    foreign = cst.parse_module("torch = 1\n").body[0]

    class Foreign(Rule):
        code = "GS196" if "GS196" not in REGISTRY else "GS195"
        name = "test-only-foreign"
        framework = "any"
        summary = message = hint = "foreign"
        triggers = ("torch",)

        def check(self, model):
            yield Report(foreign)
            yield Report(None)

    try:
        findings = check_source(BAD, path="m.py", select=["GS101", Foreign.code])
    finally:
        REGISTRY.pop(Foreign.code, None)
    assert [(f.line, f.code) for f in findings] == [(1, "GS000"), (7, "GS101"), (8, "GS101")]
    assert findings[0].message.startswith(f"internal error in rule {Foreign.code}: reported")


def test_a_checked_files_tree_is_freed_without_the_cyclic_collector():
    """Reference counting alone frees each file's tree once its findings are out: a cycle that
    held it would make the collector traverse every tree of a whole-project run."""
    import gc

    import libcst as cst

    from gradscan.engine import check_source

    source = (Path(__file__).parent / "fixtures" / "torch_training" / "actor_critic_script.py").read_text()
    check_source(source, "warm_up.py")  # first use fills per-process tables
    gc.collect()
    gc.disable()
    try:
        before = sum(1 for o in gc.get_objects() if issubclass(type(o), cst.CSTNode))
        findings = check_source(source, "a.py")
        after = sum(1 for o in gc.get_objects() if issubclass(type(o), cst.CSTNode))
    finally:
        gc.enable()
    assert findings is not None
    assert after == before


def test_a_question_past_its_flow_budget_is_reported_as_gs003_when_asked(monkeypatch):
    from gradscan.config import Settings
    from gradscan.semantics.flow import Flow

    chain = "\n".join(f"        v{i + 1} = v{i} * 2" for i in range(40))
    src = ("import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
           "        self.l1 = nn.Linear(3, 3)\n\n    def forward(self, x):\n        v0 = self.l1(x).detach()\n"
           f"{chain}\n        return v40\n")
    assert [f.code for f in check_source(src, path="m.py", settings=Settings(extend_select=["GS003"]))] == ["GS201"]
    monkeypatch.setattr(Flow, "QUERY_BUDGET", 5)
    assert [f.code for f in check_source(src, path="m.py")] == []  # off by default, and the answer is 'unknown'
    assert [f.code for f in check_source(src, path="m.py", settings=Settings(extend_select=["GS003"]))] == ["GS003"]


def test_positions_stay_right_after_a_line_libcst_drops():
    """libcst drops a line holding only a backslash continuation; positions after it are mapped
    back to the source's own lines (found by the fuzz tier)."""
    src = ("import torch.nn as nn\n\n\nclass Nested(nn.Module):\n    \"\"\"doc\"\"\"\n\\\n    def __init__(self):\n"
           "        super().__init__()\n        self.proj = nn.Linear(4, 4)\n\n    def forward(self, x):\n"
           "        return self.proj(x).detach()\n")
    (f,) = check_source(src, path="m.py")
    assert (f.code, f.line, f.col) == ("GS201", 12, 29) and src.splitlines()[11][f.col - 1:].startswith("detach")


def test_no_fix_is_offered_where_libcst_dropped_a_line():
    """The finding is mapped back to the source's line, but an edit is not trusted there."""
    src = ("import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    \"\"\"doc\"\"\"\n\\\n    def __init__(self):\n"
           "        super().__init__()\n        self.w = torch.randn(3, requires_grad=True)\n")
    (f,) = check_source(src, path="m.py")
    assert (f.code, f.line) == ("GS101", 10) and f.fix is None
    (g,) = check_source(src.replace("\\\n", ""), path="m.py")
    assert g.fix is not None
