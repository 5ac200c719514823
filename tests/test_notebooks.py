"""Jupyter notebooks through the whole path: reading, IPython syntax, cells, and every output format.

The annotated notebooks in tests/fixtures/notebooks/ are also checked by tests/test_fixtures.py;
here they go through the real command line (a subprocess), and small notebooks built in the
tests pin down each piece of IPython syntax and each way a notebook can be malformed.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from gradscan.engine import check_source
from gradscan.files.notebook import notebook_source
from tests.annotations import expected_in_file

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
CONCISE = re.compile(r"^(?P<path>.+?\.ipynb):cell (?P<cell>\d+):(?P<line>\d+):(?P<col>\d+): (?P<code>GS\d{3}) (?P<message>.+)$")

MODEL_CELL = """\
class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)

    def forward(self, x):
        return x * self.w
"""
IMPORTS = "import torch\nfrom torch import nn\n"


def cell(source: str, kind: str = "code") -> dict:
    out = {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        out.update(execution_count=None, outputs=[])
    return out


def notebook(*cells: dict, **metadata) -> str:
    return json.dumps({"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def found(text: str, select=("ALL",)) -> list:
    return [(f.cell, f.line, f.col, f.code) for f in check_source(text, path="nb.ipynb", select=list(select))]


def gradscan(*args: str, cwd: Path = ROOT, stdin: str = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradscan", "--isolated", "--no-cache", *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=600)


# --- the command line on the fixture notebooks ------------------------------------------------

def test_concise_output_names_cell_and_line():
    result = gradscan("--select", "ALL", str(NOTEBOOKS.relative_to(ROOT)))
    assert result.returncode == 1, result.stderr
    reported = {}
    for line in result.stdout.splitlines():
        m = CONCISE.match(line)
        assert m, f"not `path.ipynb:cell N:line:col: CODE message`: {line!r}"
        reported.setdefault(Path(m["path"]).name, set()).add((int(m["cell"]), int(m["line"]), m["code"]))
    expected = {p.name: expected_in_file(p) for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    assert reported == {name: marks for name, marks in expected.items() if marks}
    assert ("magics.ipynb" in reported) and (5, 4, "GS101") in reported["magics.ipynb"]
    # sorted by path, then cell, then line
    keys = [(m["path"], int(m["cell"]), int(m["line"]), int(m["col"])) for m in map(CONCISE.match, result.stdout.splitlines())]
    assert keys == sorted(keys)


def test_json_has_the_cell():
    result = gradscan("--output-format", "json", str(NOTEBOOKS / "magics.ipynb"), str(NOTEBOOKS / "broken_cell.ipynb"))
    items = json.loads(result.stdout)
    got = {(Path(i["filename"]).name, i["cell"], i["location"]["row"], i["location"]["column"], i["code"]) for i in items}
    assert ("magics.ipynb", 5, 4, 18, "GS101") in got
    assert ("magics.ipynb", 7, 7, 7, "GS107") in got
    assert ("broken_cell.ipynb", 2, 1, 10, "GS001") in got
    gs101 = next(i for i in items if i["code"] == "GS101")
    assert gs101["end_location"] == {"row": 4, "column": 52}


def test_json_cell_is_null_for_python_files(tmp_path):
    (tmp_path / "model.py").write_text(IMPORTS + "\n\n" + MODEL_CELL)
    [item] = json.loads(gradscan("--output-format", "json", "model.py", cwd=tmp_path).stdout)
    assert item["cell"] is None and item["location"]["row"] == 8


def test_github_annotations_use_the_cell_line_and_name_the_cell():
    result = gradscan("--output-format", "github", str((NOTEBOOKS / "magics.ipynb").relative_to(ROOT)))
    lines = result.stdout.splitlines()
    assert "::error file=tests/fixtures/notebooks/magics.ipynb,line=4,col=18,endLine=4,endColumn=52,title=gradscan (GS101)::GS101 " in lines[0]
    assert lines[0].endswith(" (cell 5)")
    assert lines[1].startswith("::error file=tests/fixtures/notebooks/magics.ipynb,line=7,col=7,") and lines[1].endswith(" (cell 7)")


def test_sarif_validates_and_names_the_cell():
    jsonschema = pytest.importorskip("jsonschema")
    result = gradscan("--output-format", "sarif", str((NOTEBOOKS / "magics.ipynb").relative_to(ROOT)))
    log = json.loads(result.stdout)
    jsonschema.validate(log, json.loads(SCHEMA.read_text(encoding="utf-8")))
    [run] = log["runs"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    region = by_rule["GS101"]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (4, 18)
    assert by_rule["GS101"]["message"]["text"].endswith("(cell 5)")
    assert by_rule["GS101"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("magics.ipynb")


def test_full_output_shows_the_cells_line():
    result = gradscan("--output-format", "full", str(NOTEBOOKS / "magics.ipynb"))
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if ":cell 5:4:18: GS101" in line)
    assert lines[at + 1].strip() == "self.w = torch.randn(3, requires_grad=True)  # error: GS101"
    assert lines[at + 2].index("^") == lines[at + 1].index("torch.randn")


def test_full_output_shows_the_cells_own_text_not_what_was_checked_in_its_place():
    # A broken cell is checked commented out, and a magic as `pass`: neither is what the user wrote.
    text = notebook(cell("!pip install torch\ndef half(:\n    pass"))
    result = gradscan("--output-format", "full", "--stdin-filename", "nb.ipynb", "-", stdin=text)
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if ":cell 1:2:" in line and "GS001" in line)
    assert lines[at + 1].strip() == "def half(:"


def test_standard_input_notebook():
    text = (NOTEBOOKS / "broken_cell.ipynb").read_text(encoding="utf-8")
    result = gradscan("--stdin-filename", "nb/train.ipynb", "-", stdin=text)
    assert result.stdout.splitlines()[0].startswith("nb/train.ipynb:cell 2:1:10: GS001 syntax error")
    assert "nb/train.ipynb:cell 4:3:11: GS107 " in result.stdout


def test_folder_scan_finds_notebooks_and_skips_checkpoints(tmp_path):
    text = notebook(cell(IMPORTS), cell(MODEL_CELL))
    (tmp_path / "train.ipynb").write_text(text)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "train-checkpoint.ipynb").write_text(text)
    result = gradscan(".", cwd=tmp_path)
    assert result.returncode == 1
    assert [line.split(": ")[0] for line in result.stdout.splitlines()] == ["train.ipynb:cell 2:4:18"]


# --- malformed notebooks: one GS001, never a crash --------------------------------------------

@pytest.mark.parametrize("text, words", [
    pytest.param('{"cells": [', "malformed notebook", id="truncated-json"),
    pytest.param("not json at all", "malformed notebook", id="not-json"),
    pytest.param("[1, 2]", "top level", id="top-level-list"),
    pytest.param('{"metadata": {}}', "no list of cells", id="no-cells"),
    pytest.param('{"cells": {"a": 1}}', "not a list", id="cells-not-a-list"),
    pytest.param('{"cells": [3]}', "not an object", id="cell-not-an-object"),
    pytest.param('{"cells": [{"cell_type": "code", "source": [1, 2]}]}', "not text", id="source-not-text"),
    pytest.param('{"cells": [{"cell_type": "code", "source": 7}]}', "not text", id="source-a-number"),
    pytest.param('{"cells": [{"cell_type": "code", "source": "x = 1\\u0000"}]}', "NUL", id="nul-in-source"),
    pytest.param("[" * 100000 + "]" * 100000, "malformed notebook", id="deeply-nested"),
])
def test_malformed_notebook_is_gs001(tmp_path, text, words):
    (tmp_path / "bad.ipynb").write_text(text)
    (tmp_path / "model.py").write_text(IMPORTS + "\n\n" + MODEL_CELL)
    result = gradscan(".", "--output-format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    items = json.loads(result.stdout)
    [bad] = [i for i in items if i["filename"] == "bad.ipynb"]
    assert bad["code"] == "GS001" and words in bad["message"] and bad["cell"] is None
    assert [i["code"] for i in items if i["filename"] == "model.py"] == ["GS101"]  # the run went on


def test_undecodable_notebook_is_gs001(tmp_path):
    (tmp_path / "bad.ipynb").write_bytes(b'{"cells": ["\xff\xfe"]}')
    result = gradscan("bad.ipynb", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout.startswith("bad.ipynb:1:") and " GS001 " in result.stdout


def test_broken_cell_is_reported_at_its_line_and_the_rest_is_checked():
    text = notebook(cell(IMPORTS), cell("x = 1\nfor i in range(3)\n    pass\n"), cell(MODEL_CELL))
    assert found(text) == [(2, 2, 18, "GS001"), (3, 4, 18, "GS101")]


# --- IPython syntax -----------------------------------------------------------------------------

def module_lines(text: str) -> list:
    return notebook_source(text, "nb.ipynb").text.splitlines()


def test_line_magics_and_shell_escapes_keep_line_numbers():
    text = notebook(cell("%matplotlib inline\n!pip install torch\n" + IMPORTS), cell(MODEL_CELL))
    source = notebook_source(text, "nb.ipynb")
    assert source.text.splitlines()[:4] == ["pass", "pass", "import torch", "from torch import nn"]
    assert found(text) == [(2, 4, 18, "GS101")]


def test_cell_magic_cells_are_skipped_even_after_blank_lines():
    text = notebook(cell(IMPORTS), cell("%%bash\n" + MODEL_CELL), cell("\n\n  %%writefile m.py\n" + MODEL_CELL))
    assert found(text) == []
    assert module_lines(text) == ["import torch", "from torch import nn"]


def test_cell_magics_that_run_python_have_their_body_checked():
    # %%capture, %%time... run their body in the kernel as a cell of its own: IPython syntax included.
    for magic in ("%%capture out", "%%time", "%%timeit -n 1", "%%prun -q", "\n%%capture"):
        text = notebook(cell(IMPORTS), cell(magic + "\n!pip install a \\\n  b\n" + MODEL_CELL))
        row = magic.count("\n") + 3 + 4
        assert found(text) == [(2, row, 18, "GS101")], magic
    nested = notebook(cell(IMPORTS), cell("%%capture\n%%bash\n" + MODEL_CELL))
    assert found(nested) == []


# Each IPython form, then the model in the same cell (its finding at line `len(form) + 4`), then
# the form again: no GS001, and the finding keeps its line and column in the cell.
IPYTHON_FORMS = [
    "%matplotlib inline",
    "%load_ext autoreload",
    "%pip install a \\\n    b",
    "!pip install torch",
    "!pip install a \\\n  b",
    "!pip install a \\\n  b \\\n      c",
    "!!ls",
    "files = !ls",
    "files = !ls -la \\\n   /tmp",
    "a[0], b = %sx echo 1 2",
    "t = %time f()",
    "t = %timeit -o \\\n        f()",
    "%time x = f()",
    "%time x = (1,",
    "?nn.Module",
    "??nn.Module",
    "nn.Module?",
    "nn.Module??",
    "x = torch.nn.Linear?",
    "%timeit?",
    "/print 1 2",
    ",print a b",
    ";print a b",
    "if True:\n    !echo in a block \\\n      continued\nelse:\n    %time y = 1",
]


@pytest.mark.parametrize("form", IPYTHON_FORMS)
def test_ipython_form_is_not_a_syntax_error_and_positions_hold(form):
    rows = form.count("\n") + 1
    text = notebook(cell(IMPORTS), cell(form + "\n" + MODEL_CELL + form + "\n"))
    assert found(text) == [(2, rows + 4, 18, "GS101")]
    # and a real syntax error after it is still reported, at its own line and column
    broken = notebook(cell(form + "\ndef half(:\n    pass\n" + form))
    assert found(broken) == [(1, rows + 1, 10, "GS001")]


@pytest.mark.parametrize("prefix, rest", [
    pytest.param("    ", "    ", id="indented-cell"),
    pytest.param("\t", "\t", id="tab-indented-cell"),
    pytest.param(">>> ", "... ", id="python-prompts"),
    pytest.param("In [3]: ", "   ...: ", id="ipython-prompts"),
])
def test_cut_indentation_and_prompts_are_added_back_to_columns(prefix, rest):
    lines = (IMPORTS + MODEL_CELL).splitlines()
    source = "\n".join([prefix + lines[0]] + [rest + line if line else line for line in lines[1:]]) + "\n"
    assert found(notebook(cell(source))) == [(1, 6, 18 + len(rest), "GS101")]
    broken = prefix + "x = 1\n" + rest + "def half(:\n" + rest + "    pass\n"
    assert found(notebook(cell(broken))) == [(1, 2, 10 + len(rest), "GS001")]


def test_a_line_indented_less_than_the_first_is_a_real_error():
    assert [f[3] for f in found(notebook(cell("    x = 1\n  y = 2\n")))] == ["GS001"]


def test_percent_and_bang_that_are_python_stay_python():
    source = (
        'msg = ("%d items"\n'
        '       % 3)\n'
        'n = (7\n'
        '     %2)\n'
        'total = 10 \\\n'
        '    % 4\n'
        'DOC = """\n'
        '%d percent\n'
        '!important\n'
        '"""\n'
    )
    text = notebook(cell(source))
    assert module_lines(text) == source.splitlines()
    assert found(text) == []


def test_ipython_escapes_at_statement_starts():
    source = (
        "files = !ls\n"
        "a, b = %sx echo 1 2\n"
        "torch.nn.Linear?\n"
        "??nn.Module\n"
        "%timeit?\n"
        "if files:\n"
        "    %time y = 1\n"
        "else:\n"
        "    !echo none\n"
        "/print 1\n"
        ",print a b\n"
    )
    text = notebook(cell(IMPORTS), cell(source), cell(MODEL_CELL))
    assert module_lines(text)[2:13] == [
        "files = None", "a, b = None", "pass", "pass", "pass", "if files:", "    pass", "else:", "    pass", "pass", "pass"]
    assert found(text) == [(3, 4, 18, "GS101")]


def test_top_level_await_is_accepted():
    text = notebook(cell(IMPORTS + "import asyncio\nawait asyncio.sleep(0)\n"), cell(MODEL_CELL))
    assert found(text) == [(2, 4, 18, "GS101")]


def test_imports_in_one_cell_serve_another():
    """Cross-cell context: the finding exists only because cell 1's imports resolve in cell 3."""
    with_imports = notebook(cell(IMPORTS), cell("# Model", kind="markdown"), cell(MODEL_CELL))
    assert found(with_imports) == [(3, 4, 18, "GS101")]
    without = notebook(cell("import numpy as np\n"), cell("# Model", kind="markdown"), cell(MODEL_CELL))
    assert found(without) == []


def test_noqa_and_skip_file_in_cells():
    quiet = MODEL_CELL.replace("requires_grad=True)", "requires_grad=True)  # noqa: GS101")
    assert found(notebook(cell(IMPORTS), cell(quiet))) == []
    assert found(notebook(cell("# gradscan: skip-file\n" + IMPORTS), cell(MODEL_CELL))) == []


def test_crlf_and_string_sources_and_bom():
    crlf = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": (IMPORTS + MODEL_CELL).replace("\n", "\r\n")}
    text = json.dumps({"cells": [crlf], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert found(text) == [(1, 6, 18, "GS101")]
    assert found("\ufeff" + text) == [(1, 6, 18, "GS101")]


def test_nbformat_3():
    text = json.dumps({"nbformat": 3, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": IMPORTS.splitlines(keepends=True), "language": "python"},
        {"cell_type": "markdown", "source": ["# Model"]},
        {"cell_type": "code", "input": MODEL_CELL.splitlines(keepends=True), "language": "python"},
    ]}]})
    assert found(text) == [(3, 4, 18, "GS101")]


def test_other_kernels_are_not_python():
    r_code = "library(torch)\nx <- torch_randn(3)\n"
    assert found(notebook(cell(r_code), language_info={"name": "R"}, kernelspec={"language": "R", "name": "ir"})) == []
    python = notebook(cell(IMPORTS), cell(MODEL_CELL), language_info={"name": "python", "version": "3.11"})
    assert found(python) == [(2, 4, 18, "GS101")]


def test_empty_and_markdown_only_notebooks():
    assert found(notebook()) == []
    assert found(notebook(cell("# title", kind="markdown"), cell("", kind="code"))) == []


def test_the_cells_own_warnings_are_not_printed():
    text = notebook(cell('x = None()\ny = "\\d"\n'))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert found(text) == []
