"""Every output format, rendered from known findings and from real runs of the command (issue 2)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema.validators import validator_for

from gradscan.findings import Finding, Fix
from gradscan.reports import FORMATS, render, statistics
from gradscan.rules import REGISTRY
from tests.cli_support import BAD, ISOLATED, SELECT, cli, gs001, run, write

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
JSON_KEYS = {"filename", "code", "message", "location", "end_location", "rule", "fix", "url"}

FINDINGS = [
    Finding("src/a.py", 7, 18, "GS101", "a message", 7, 52),
    Finding("src/a.py", 9, 5, "GS107", "with % and : and , in it\nand a newline", 9, 24),
    Finding("nb.ipynb", 4, 18, "GS101", "in a cell", 4, 52, cell=3,
            fix=Fix("Wrap it", "nn.Parameter(x)", 4, 18, 4, 52)),
    Finding("my dir/b.py", 1, 1, "GS001", "syntax error: invalid syntax", 1, 1),
]


def validate_sarif(text: str) -> dict:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = validator_for(schema)  # draft-04
    validator.check_schema(schema)
    log = json.loads(text)
    errors = sorted(validator(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    return log


# --- rendering known findings -----------------------------------------------------------------

def test_concise_is_flake8s_line():
    assert render("concise", FINDINGS).splitlines() == [
        "src/a.py:7:18: GS101 a message",
        "src/a.py:9:5: GS107 with % and : and , in it",
        "and a newline",
        "nb.ipynb:cell 3:4:18: GS101 in a cell",
        "my dir/b.py:1:1: GS001 syntax error: invalid syntax",
    ]


def test_full_shows_the_line_a_caret_and_the_hint():
    lines = {("src/a.py", 7): "        self.w = torch.randn(3, requires_grad=True)", ("nb.ipynb", 4): "\tx = torch.randn(3)"}
    out = render("full", [FINDINGS[0], FINDINGS[2]], lambda f: lines.get((f.path, f.line), ""))
    why = why_lines(REGISTRY["GS101"].explanation)
    assert out.splitlines() == [
        "src/a.py:7:18: GS101 a message",
        "            self.w = torch.randn(3, requires_grad=True)",
        "                     " + "^" * len("torch.randn(3, requires_grad=True)"),  # the whole range
        *why,
        f"    help: {REGISTRY['GS101'].hint}",
        "",
        "nb.ipynb:cell 3:4:18: GS101 in a cell",
        "    \tx = torch.randn(3)",
        "    \t                ^^",  # a tab stays a tab; a range past the line ends with it
        *why,
        f"    help: {REGISTRY['GS101'].hint}",
        "",
    ]
    caret_line = out.splitlines()[2]
    assert caret_line.index("^") == 4 + 18 - 1


def why_lines(explanation: str) -> list:
    """The explanation as `full` prints it: `why:` then continuation lines, indented, none over 100."""
    out = render("full", [FINDINGS[0]], lambda f: "")
    lines = [l for l in out.splitlines() if l.startswith("    why: ") or l.startswith("         ")]
    assert lines and lines[0].startswith("    why: ") and all(len(l) <= 100 for l in lines)
    assert " ".join(l.strip() for l in lines)[len("why: "):] == explanation
    return lines


def test_full_underlines_multi_line_ranges_to_the_end_of_the_first_line():
    f = Finding("m.py", 2, 9, "GS101", "m", 4, 3)
    assert render("full", [f], lambda _: "    x = (torch.randn(3,  \n").splitlines()[2] == " " * 12 + "^" * len("(torch.randn(3,")


def test_full_without_a_source_line_still_prints_the_finding():
    out = render("full", [FINDINGS[3]], lambda f: "")
    assert out.splitlines()[0] == "my dir/b.py:1:1: GS001 syntax error: invalid syntax"
    assert "^" not in out


def test_json_has_the_documented_keys():
    items = json.loads(render("json", FINDINGS))
    assert len(items) == len(FINDINGS)
    for item, f in zip(items, FINDINGS):
        assert JSON_KEYS <= set(item)
        assert (item["filename"], item["code"], item["message"]) == (f.path, f.code, f.message)
        assert item["location"] == {"row": f.line, "column": f.col}
        assert item["end_location"] == {"row": f.end_line, "column": f.end_col}
        assert item["rule"] == REGISTRY[f.code].name
        assert item["cell"] == f.cell
    assert items[0]["fix"] is None and items[0]["url"].startswith("https://")
    assert items[3]["url"] is None, "the engine's codes have no rule page"
    assert items[2]["fix"] == {
        "message": "Wrap it",
        "applicability": "safe",
        "edits": [{"content": "nn.Parameter(x)", "location": {"row": 4, "column": 18}, "end_location": {"row": 4, "column": 52}}],
    }


def test_json_of_nothing_is_an_empty_array():
    assert json.loads(render("json", [])) == []


def test_github_annotations():
    lines = render("github", FINDINGS).splitlines()
    assert lines[0] == "::error file=src/a.py,line=7,col=18,endLine=7,endColumn=52,title=gradscan (GS101)::GS101 a message"
    # Data escapes % and newlines; properties also escape : and ,.
    assert lines[1] == ("::error file=src/a.py,line=9,col=5,endLine=9,endColumn=24,title=gradscan (GS107)::"
                        "GS107 with %25 and : and , in it%0Aand a newline")
    assert lines[2].startswith("::error file=nb.ipynb,line=4,col=18,") and lines[2].endswith("in a cell (cell 3)")
    assert lines[3].startswith("::error file=my dir/b.py,line=1,col=1,")
    assert len(lines) == len(FINDINGS)


def test_sarif_validates_and_carries_rules_and_locations():
    log = validate_sarif(render("sarif", FINDINGS))
    assert log["version"] == "2.1.0"
    run_ = log["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "gradscan"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted(REGISTRY)
    for rule in driver["rules"]:
        assert rule["help"]["text"] and rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["enabled"] is bool(REGISTRY[rule["id"]].default_enabled)
    results = run_["results"]
    assert [r["ruleId"] for r in results] == [f.code for f in FINDINGS]
    for result, f in zip(results, FINDINGS):
        assert driver["rules"][result["ruleIndex"]]["id"] == f.code
        location = result["locations"][0]["physicalLocation"]
        assert location["region"]["startLine"] == f.line and location["region"]["startColumn"] == f.col
        assert location["region"]["endColumn"] == f.end_col
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert uris == ["src/a.py", "src/a.py", "nb.ipynb", "my%20dir/b.py"]
    assert results[2]["message"]["text"].endswith("(cell 3)")


def test_sarif_carries_fixes_and_validates():
    fixed = Finding("src/a.py", 9, 7, "GS107", "typo", 9, 19, fix=Fix("Replace it", "requires_grad", 9, 7, 9, 19))
    log = validate_sarif(render("sarif", [fixed, *FINDINGS]))
    results = log["runs"][0]["results"]
    (change,) = results[0]["fixes"][0]["artifactChanges"]
    assert results[0]["fixes"][0]["description"]["text"] == "Replace it"
    assert change["artifactLocation"]["uri"] == "src/a.py"
    assert change["replacements"] == [{
        "deletedRegion": {"startLine": 9, "startColumn": 7, "endLine": 9, "endColumn": 19},
        "insertedContent": {"text": "requires_grad"},
    }]
    # A notebook fix is in cell coordinates, not the .ipynb's: not offered as an artifact change.
    assert "fixes" not in results[3] and results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "nb.ipynb"
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["GS101"]["properties"]["fix"] == "safe" and rules["GS201"]["properties"]["fix"] is None


def test_sarif_of_nothing_validates():
    log = validate_sarif(render("sarif", []))
    assert log["runs"][0]["results"] == []


def test_sarif_absolute_path_is_a_file_uri(tmp_path):
    f = Finding(str(tmp_path / "a b.py"), 1, 1, "GS001", "x", 1, 1)
    log = validate_sarif(render("sarif", [f]))
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (tmp_path / "a b.py").as_uri()


def test_statistics_rows():
    assert statistics(FINDINGS).splitlines() == [
        "    2\tGS101\ttensor-attribute-requires-grad",
        "    1\tGS001\tunreadable-file",
        "    1\tGS107\trequire-grad-typo",
        "    4\ttotal",
    ]
    assert json.loads(statistics(FINDINGS, "json")) == {"total": 4, "rules": [
        {"code": "GS101", "name": "tensor-attribute-requires-grad", "count": 2},
        {"code": "GS001", "name": "unreadable-file", "count": 1},
        {"code": "GS107", "name": "require-grad-typo", "count": 1},
    ]}


def test_one_severity_mapping_for_every_format_with_levels():
    """github annotations and SARIF results carry the level the LSP server gives (test_lsp)."""
    from gradscan.reports import severity

    sarif_log = json.loads(render("sarif", FINDINGS))
    levels = [r["level"] for r in sarif_log["runs"][0]["results"]]
    annotations = [line.split(" ", 1)[0][2:] for line in render("github", FINDINGS).splitlines()]
    assert levels == annotations == [severity(f.code) for f in FINDINGS]
    assert set(levels) <= {"error", "warning"}
    for rule in sarif_log["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["defaultConfiguration"]["level"] == severity(rule["id"])


# --- every format from a real run ------------------------------------------------------------

def _project(tmp_path: Path) -> Path:
    write(tmp_path, "src/model.py")
    write(tmp_path, "src/broken.py", "def f(:\n    pass\n")
    write(tmp_path, "src/tabs.py", "import torch\nif True:\n\tw = torch.zeros(3)\n\tw.require_grad = True\n")
    return tmp_path


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_from_the_command(tmp_path, fmt):
    _project(tmp_path)
    r = cli([*ISOLATED, *SELECT, "--output-format", fmt, "src"], tmp_path)
    assert r.code == 1, r
    if fmt == "json":
        items = json.loads(r.stdout)
        assert [(i["filename"], i["location"]["row"], i["code"]) for i in items] == [
            ("src/broken.py", 1, "GS001"), ("src/model.py", 7, "GS101"), ("src/model.py", 8, "GS101"),
            ("src/model.py", 9, "GS107"), ("src/tabs.py", 4, "GS107")]
        assert all(JSON_KEYS <= set(i) for i in items)
        assert r.stderr == "", "machine formats print no summary"
    elif fmt == "sarif":
        log = validate_sarif(r.stdout)
        assert len(log["runs"][0]["results"]) == 5
        assert r.stderr == ""
    elif fmt == "github":
        assert len(r.lines) == 5 and all(line.startswith("::error file=src/") for line in r.lines), r
        assert r.stderr == ""
    elif fmt == "concise":
        assert len(r.lines) == 5 and r.lines[0] == "src/broken.py:" + gs001("def f(:\n    pass\n")
        assert "Found 5 problems in 3 of 3 files." in r.stderr
    elif fmt == "full":
        out = r.stdout
        assert "src/model.py:7:18: GS101" in out
        assert "            self.w = torch.randn(3, requires_grad=True)\n                     " + "^" * 34 + "\n" in out
        # A finding with a fix shows the concrete edit instead of the rule's general help.
        assert f"    help: {REGISTRY['GS101'].hint}\n" not in out
        assert ("    fix (safe): Wrap the tensor in nn.Parameter\n"
                "    -         self.w = torch.randn(3, requires_grad=True)\n"
                "    +         self.w = nn.Parameter(torch.randn(3))\n") in out
        col = int(gs001("def f(:\n    pass\n").split(":")[1])
        assert "    def f(:\n    " + " " * (col - 1) + "^\n" in out, "a syntax error shows its line and caret too"
        assert "    \tw.require_grad = True\n    \t  ^^^^^^^^^^^^\n" in out, "tabs keep the carets aligned"
        assert "Found 5 problems in 3 of 3 files." in r.stderr


def test_sarif_from_the_installed_command_validates(tmp_path):
    _project(tmp_path)
    r = run([*ISOLATED, "--output-format", "sarif", "src"], tmp_path)
    assert r.code == 1, r
    log = validate_sarif(r.stdout)
    assert {res["ruleId"] for res in log["runs"][0]["results"]} >= {"GS001", "GS101", "GS107"}


def test_full_output_of_a_notebook_shows_the_cell_line(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": ["import torch\n", "import torch.nn as nn\n"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": ["class Net(nn.Module):\n", "    def __init__(self):\n", "        super().__init__()\n",
                        "        self.w = torch.randn(3, requires_grad=True)\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    write(tmp_path, "nb.ipynb", json.dumps(nb))
    full = cli([*ISOLATED, "--select", "GS101", "--output-format", "full", "nb.ipynb"], tmp_path)
    assert full.stdout.splitlines()[:3] == [
        f"nb.ipynb:cell 3:4:18: GS101 {REGISTRY['GS101'].message}",
        "            self.w = torch.randn(3, requires_grad=True)",
        "                     " + "^" * 34,
    ], full
    items = json.loads(cli([*ISOLATED, "--select", "GS101", "--output-format", "json", "nb.ipynb"], tmp_path).stdout)
    assert (items[0]["cell"], items[0]["location"]["row"]) == (3, 4)
    if items[0]["fix"] is not None:
        assert items[0]["fix"]["edits"][0]["location"]["row"] == 4, "a fix is located inside the cell too"


def test_a_file_name_that_is_not_utf8_renders_in_every_format():
    """os.listdir gives such names with surrogate escapes; no format may crash on them."""
    f = Finding("src/\udce9t\u00e9.py", 1, 1, "GS001", "x", 1, 1)
    for fmt in FORMATS:
        assert render(fmt, [f], lambda _: "")
    log = validate_sarif(render("sarif", [f]))
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/%E9t%C3%A9.py"
