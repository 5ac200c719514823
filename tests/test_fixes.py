"""Autofix (issue 19): each rule's fix as input/expected pairs, the fixes layer's guarantees
(idempotence, overlaps, never writing a file that does not parse, atomic writes keeping mode,
encoding and line endings, no overwrite of a file changed meanwhile, notebooks cell by cell),
the command line's --fix/--diff/--unsafe-fixes, fixable/unfixable, and a property run of
--fix over a copy of every fixture."""
from __future__ import annotations

import json
import os
import shutil
import stat
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from gradscan.engine import check_source
from gradscan.findings import Finding, Fix
from gradscan.fixes import apply_edits, fix_file, fix_notebook_text, fix_python_text
from gradscan.rules import REGISTRY
from tests.cli_support import ISOLATED, cli, run, write

ALL = frozenset(REGISTRY)
FIXTURES = Path(__file__).parent / "fixtures"


def fixed(source: str, unsafe: bool = False, path: str = "m.py") -> str:
    source = textwrap.dedent(source)
    out, _applied, error = fix_python_text(source, lambda t: check_source(t, path), ALL, unsafe)
    assert error is None, error
    return out


# --- input/expected pairs per rule --------------------------------------------------------------
TORCH_HEAD = "import torch\nfrom torch import nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
FORWARD = "\n    def forward(self, x):\n        return x\n"

PAIRS = [
    # GS101: the argument removed (with its comma), comments and odd spacing kept, nn as imported.
    ("GS101", TORCH_HEAD + "        self.w = torch.randn( 3,4 , requires_grad=True )  # the scale\n" + FORWARD,
     TORCH_HEAD + "        self.w = nn.Parameter(torch.randn( 3,4 ))  # the scale\n" + FORWARD, False),
    ("GS101", "import torch as th\nimport torch.nn as tnn\n\nclass M(tnn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.w = th.zeros(2, dtype=th.float64, requires_grad=True)\n",
     "import torch as th\nimport torch.nn as tnn\n\nclass M(tnn.Module):\n    def __init__(self):\n"
     "        super().__init__()\n        self.w = tnn.Parameter(th.zeros(2, dtype=th.float64))\n", False),
    ("GS101", "import torch\nfrom torch.nn import Module, Parameter\n\nclass M(Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.w = torch.ones(\n            3,\n            requires_grad=True,\n        )\n",
     "import torch\nfrom torch.nn import Module, Parameter\n\nclass M(Module):\n    def __init__(self):\n"
     "        super().__init__()\n        self.w = Parameter(torch.ones(\n            3,\n        ))\n", False),
    # GS101, the unregistered weight initialised with nn.init: wrapped, the init call kept.
    ("GS101", TORCH_HEAD + "        self.w = torch.empty(3, 3)\n        nn.init.xavier_uniform_(self.w)\n" + FORWARD,
     TORCH_HEAD + "        self.w = nn.Parameter(torch.empty(3, 3))\n        nn.init.xavier_uniform_(self.w)\n" + FORWARD, False),
    # GS102
    ("GS102", TORCH_HEAD + "        self.w = nn.Parameter(torch.randn(3)).to(  'cpu' )  # moved\n" + FORWARD,
     TORCH_HEAD + "        self.w = nn.Parameter(torch.randn(3).to(  'cpu' ))  # moved\n" + FORWARD, False),
    # GS103: list literal, comprehension, dict, parameters.
    ("GS103", TORCH_HEAD + "        self.layers = [nn.Linear(2, 2),  # first\n                       nn.Linear(2, 2)]\n" + FORWARD,
     TORCH_HEAD + "        self.layers = nn.ModuleList([nn.Linear(2, 2),  # first\n                       nn.Linear(2, 2)])\n" + FORWARD, False),
    ("GS103", TORCH_HEAD + "        self.layers = [nn.Linear(2, 2) for _ in range(3)]\n" + FORWARD,
     TORCH_HEAD + "        self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])\n" + FORWARD, False),
    ("GS103", TORCH_HEAD + '        self.heads = {"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)}\n' + FORWARD,
     TORCH_HEAD + '        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)})\n' + FORWARD, False),
    ("GS103", TORCH_HEAD + "        self.ws = [nn.Parameter(torch.randn(2)) for _ in range(2)]\n" + FORWARD,
     TORCH_HEAD + "        self.ws = nn.ParameterList([nn.Parameter(torch.randn(2)) for _ in range(2)])\n" + FORWARD, False),
    # GS107
    ("GS107", "def freeze(m):\n    for p in m.parameters():\n        p.require_grad = False  # freeze\n",
     "def freeze(m):\n    for p in m.parameters():\n        p.requires_grad = False  # freeze\n", False),
    # GS301: the call's arguments kept.
    ("GS301", TORCH_HEAD.replace("from torch import nn", "from torch import nn\nimport torch.distributions as D")
     + "        self.mu = nn.Linear(2, 2)\n\n    def forward(self, x):\n        mu = self.mu(x)\n"
       "        return D.Normal(mu, 1.0).sample((4,))\n",
     TORCH_HEAD.replace("from torch import nn", "from torch import nn\nimport torch.distributions as D")
     + "        self.mu = nn.Linear(2, 2)\n\n    def forward(self, x):\n        mu = self.mu(x)\n"
       "        return D.Normal(mu, 1.0).rsample((4,))\n", False),
    # GS302 (unsafe): parentheses where the expression needs them, torch as imported.
    ("GS302", "import torch as T\nfrom torch import nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.mu = nn.Linear(2, 2)\n\n    def forward(self, x):\n"
              "        mu = self.mu(x)\n        return T.normal(mu, x.exp() + 1).sum()\n",
     "import torch as T\nfrom torch import nn\n\nclass M(nn.Module):\n    def __init__(self):\n"
     "        super().__init__()\n        self.mu = nn.Linear(2, 2)\n\n    def forward(self, x):\n"
     "        mu = self.mu(x)\n        return (mu + (x.exp() + 1) * T.randn_like(x.exp() + 1)).sum()\n", True),
    # GS401: zeros/ones become an initializer; the name kept.
    ("GS401", "import tensorflow as tf\nimport keras\n\nclass S(keras.layers.Layer):\n    def __init__(self):\n"
              "        super().__init__()\n        self.g = tf.Variable(tf.ones(3), name='g')  # gain\n\n"
              "    def call(self, x):\n        return x * self.g\n",
     "import tensorflow as tf\nimport keras\n\nclass S(keras.layers.Layer):\n    def __init__(self):\n"
     "        super().__init__()\n        self.g = self.add_weight(shape=(3,), initializer=\"ones\", name='g')  # gain\n\n"
     "    def call(self, x):\n        return x * self.g\n", False),
]


@pytest.mark.parametrize("code,before,after,unsafe", PAIRS, ids=[f"{p[0]}-{i}" for i, p in enumerate(PAIRS)])
def test_fix_pairs(code, before, after, unsafe):
    assert code in {f.code for f in check_source(before, "m.py")}, "the input must be flagged"
    assert fixed(before, unsafe) == after
    cst.parse_module(after)
    assert code not in {f.code for f in check_source(after, "m.py")}, "the fix removes the finding"
    assert fixed(after, unsafe) == after, "a second fix changes nothing"


def test_unsafe_fix_needs_unsafe_and_no_fix_where_the_value_does_not_allow_it():
    gs302 = PAIRS[-2][1]
    assert fixed(gs302, unsafe=False) == gs302
    random_init = PAIRS[-1][1].replace("tf.ones(3)", "tf.random.normal([3])")
    assert "GS401" in {f.code for f in check_source(random_init, "m.py")}
    assert fixed(random_init) == random_init  # add_weight would draw other numbers: no fix
    by_name = PAIRS[-1][1].replace("tf.ones(3)", "tf.ones(n)")  # n may be an int: add_weight needs a sequence
    assert fixed(by_name) == by_name


def test_every_rule_with_a_fix_declares_its_safety():
    for code, rule in REGISTRY.items():
        assert rule.fix_safety in (None, "safe", "unsafe"), code
    assert {c for c, r in REGISTRY.items() if r.fix_safety} >= {"GS101", "GS102", "GS103", "GS107", "GS301", "GS302", "GS401"}
    assert REGISTRY["GS302"].fix_safety == "unsafe"


# --- the layer --------------------------------------------------------------------------------
def _finding(line, col, end_line, end_col, text, code="GS107"):
    return Finding("m.py", line, col, code, "x", line, col, fix=Fix("t", text, line, col, end_line, end_col))


def test_overlapping_fixes_are_applied_one_per_pass():
    text = "abcdef\n"
    first, second = _finding(1, 1, 1, 4, "X"), _finding(1, 3, 1, 6, "Y")
    out, taken = apply_edits(text, [second, first])
    assert out == "Xdef\n" and taken == [first]
    # Through the pass loop: the checker reports the second fix (moved) on the next pass only.
    passes = []

    def check(t):
        passes.append(t)
        return [first, second] if len(passes) == 1 else []

    out, applied, error = fix_python_text("abcdef = 1\n", check, ALL, False)
    assert error is None and len(passes) == 2 and applied == [first]


def test_multiline_replacement_uses_the_files_line_breaks():
    out, _ = apply_edits("a = 1\r\nb = 2\r\n", [_finding(2, 5, 2, 6, "(\n3\n)")])
    assert out == "a = 1\r\nb = (\r\n3\r\n)\r\n"


def test_a_fix_that_would_not_parse_is_never_applied():
    out, applied, error = fix_python_text("x = 1\n", lambda t: [_finding(1, 5, 1, 6, "(")], ALL, False)
    assert out == "x = 1\n" and not applied and "does not parse" in error


def test_file_keeps_mode_encoding_bom_and_line_endings(tmp_path):
    source = ("# -*- coding: latin-1 -*-\r\nimport torch\r\n\r\n\r\ndef f(m):\r\n"
              "    s = 'caf\xe9'\r\n    for p in m.parameters():\r\n        p.require_grad = False\r\n")
    path = tmp_path / "m.py"
    path.write_bytes(source.encode("latin-1"))
    os.chmod(path, 0o751)
    result = fix_file(path, "m.py", lambda t, p: check_source(t, p), ALL, False)
    assert result.error is None and result.applied == 1
    assert path.read_bytes() == source.replace("require_grad", "requires_grad").encode("latin-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"], "no temporary file left behind"
    bom = tmp_path / "b.py"
    bom.write_bytes(b"\xef\xbb\xbfdef f(p):\n    p.require_grad = True\n")
    fix_file(bom, "b.py", lambda t, p: check_source(t, p), ALL, False)
    assert bom.read_bytes() == b"\xef\xbb\xbfdef f(p):\n    p.requires_grad = True\n"


def test_a_file_changed_during_the_run_is_not_overwritten(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f(p):\n    p.require_grad = False\n", encoding="utf-8")

    def check(text, display):
        path.write_text("# an editor saved this meanwhile\n", encoding="utf-8")
        return check_source(text, display)

    result = fix_file(path, "m.py", check, ALL, False)
    assert "changed by another process" in result.error and result.applied == 0
    assert path.read_text(encoding="utf-8") == "# an editor saved this meanwhile\n"


def _notebook(cells, indent=1):
    nb = {"cells": cells, "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=indent, sort_keys=True, ensure_ascii=False) + "\n"


NB_CELLS = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# caf\u00e9 notes"]},
    {"cell_type": "code", "execution_count": 1, "metadata": {"tags": ["x"]},
     "outputs": [{"name": "stdout", "output_type": "stream", "text": ["p.require_grad\n"]}],
     "source": ["%matplotlib inline\n", "def f(p):\n", "    p.require_grad = False  # typo"]},
    {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [], "source": "print(1)\n"},
]


def test_notebook_fixed_cell_by_cell_with_outputs_and_metadata_untouched():
    text = _notebook(NB_CELLS)
    out, applied, error = fix_notebook_text(text, lambda t: check_source(t, "n.ipynb"), ALL, False)
    assert error is None and [f.code for f in applied] == ["GS107"]
    expected = json.loads(text)
    expected["cells"][1]["source"][2] = "    p.requires_grad = False  # typo"
    assert out == _notebook(expected["cells"])  # every other byte as it was
    assert json.loads(out)["cells"][1]["outputs"] == NB_CELLS[1]["outputs"]
    again, applied, _ = fix_notebook_text(out, lambda t: check_source(t, "n.ipynb"), ALL, False)
    assert again == out and not applied


def test_nbformat_3_notebook_is_refused_with_a_message():
    text = json.dumps({"nbformat": 3, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": ["def f(p):\n", "    p.require_grad = False\n"], "outputs": []}]}]}, indent=1)
    assert "GS107" in {f.code for f in check_source(text, "n.ipynb")}
    out, applied, error = fix_notebook_text(text, lambda t: check_source(t, "n.ipynb"), ALL, False)
    assert out == text and not applied and "nbformat 4" in error


def test_notebook_whose_layout_cannot_be_kept_is_refused():
    text = _notebook(NB_CELLS).replace('"nbformat": 4', '"nbformat":   4')
    out, applied, error = fix_notebook_text(text, lambda t: check_source(t, "n.ipynb"), ALL, False)
    assert out == text and not applied and "JSON layout" in error


# --- command line -----------------------------------------------------------------------------
BUGGY = TORCH_HEAD + "        self.w = torch.randn(3, requires_grad=True)\n\n    def forward(self, x):\n        return x * self.w\n"
NOISY = BUGGY.replace("return x * self.w", "return torch.normal(x * self.w, 1.0 + x.exp())")


def test_diff_prints_and_changes_nothing(tmp_path):
    path = write(tmp_path, "m.py", BUGGY)
    r = cli([*ISOLATED, "--diff", "m.py"], tmp_path)
    assert r.code == 1, r
    assert r.stdout.startswith("--- a/m.py\n+++ b/m.py\n")
    assert "-        self.w = torch.randn(3, requires_grad=True)\n+        self.w = nn.Parameter(torch.randn(3))\n" in r.stdout
    assert path.read_text(encoding="utf-8") == BUGGY
    clean = write(tmp_path, "c.py", "x = 1\n")
    assert cli([*ISOLATED, "--diff", "c.py"], tmp_path).code == 0


def test_fix_then_nothing_left_and_a_second_fix_changes_nothing(tmp_path):
    path = write(tmp_path, "m.py", BUGGY)
    r = run([*ISOLATED, "--fix", "m.py"], tmp_path)
    assert r.code == 0 and r.stdout == "" and "Fixed 1 problem." in r.stderr, r
    first = path.read_bytes()
    assert b"nn.Parameter(torch.randn(3))" in first
    r = run([*ISOLATED, "--fix", "m.py"], tmp_path)
    assert r.code == 0 and path.read_bytes() == first


def test_unsafe_fixes_and_what_remains_is_reported(tmp_path):
    path = write(tmp_path, "m.py", NOISY)
    r = cli([*ISOLATED, "--fix", "m.py"], tmp_path)
    assert r.code == 1 and r.codes() == ["GS302"], r  # the unsafe one remains, reported
    assert "torch.normal(" in path.read_text(encoding="utf-8")
    r = cli([*ISOLATED, "--fix", "--unsafe-fixes", "m.py"], tmp_path)
    assert r.code == 0, r
    assert "x * self.w + (1.0 + x.exp()) * torch.randn_like(1.0 + x.exp())" in path.read_text(encoding="utf-8")


def test_fixable_and_unfixable_in_the_configuration(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nunfixable = ["GS101"]\n')
    path = write(tmp_path, "m.py", BUGGY)
    r = cli(["--no-cache", "--fix", "m.py"], tmp_path)
    assert r.code == 1 and r.codes() == ["GS101"] and path.read_text(encoding="utf-8") == BUGGY
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nfixable = ["GS1"]\nunfixable = ["GS10"]\nextend-select = []\n')
    assert cli(["--no-cache", "--diff", "m.py"], tmp_path).code == 0
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nfixable = ["GS1"]\nunfixable = ["GS1"]\n')
    assert cli(["--no-cache", "--diff", "m.py"], tmp_path).code == 0  # unfixable wins a tie
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nfixable = ["GS9"]\n')
    r = cli(["--no-cache", "m.py"], tmp_path)
    assert r.code == 2 and "fixable" in r.stderr and "unknown rule selector" in r.stderr


def test_a_silenced_finding_is_not_fixed(tmp_path):
    silenced = BUGGY.replace("requires_grad=True)\n", "requires_grad=True)  # noqa: GS101\n")
    path = write(tmp_path, "m.py", silenced)
    assert cli([*ISOLATED, "--diff", "m.py"], tmp_path).code == 0
    assert cli([*ISOLATED, "--fix", "m.py"], tmp_path).code == 0 and path.read_text(encoding="utf-8") == silenced


def test_fix_and_diff_refuse_standard_input_and_each_other(tmp_path):
    r = cli([*ISOLATED, "--fix", "-"], tmp_path, input=BUGGY)
    assert r.code == 2 and "standard input" in r.stderr
    assert cli([*ISOLATED, "--fix", "--diff", "."], tmp_path).code == 2


def test_full_output_shows_the_edit(tmp_path):
    write(tmp_path, "m.py", BUGGY)
    r = cli([*ISOLATED, "--output-format", "full", "m.py"], tmp_path)
    assert "    fix (safe): Wrap the tensor in nn.Parameter\n" in r.stdout
    assert "    -         self.w = torch.randn(3, requires_grad=True)\n    +         self.w = nn.Parameter(torch.randn(3))\n" in r.stdout


def test_json_output_carries_the_fix_and_its_applicability(tmp_path):
    write(tmp_path, "m.py", BUGGY)
    write(tmp_path, "n.py", NOISY.replace("torch.randn(3, requires_grad=True)", "nn.Parameter(torch.randn(3))"))
    items = json.loads(cli([*ISOLATED, "--output-format", "json", "m.py", "n.py"], tmp_path).stdout)
    fixes = {i["code"]: i["fix"] for i in items}
    assert fixes["GS101"]["applicability"] == "safe" and fixes["GS302"]["applicability"] == "unsafe"
    [edit] = fixes["GS101"]["edits"]
    assert edit["content"] == "nn.Parameter(torch.randn(3))" and edit["location"] == {"row": 8, "column": 18}


def test_rules_and_explain_show_the_fix_safety(tmp_path):
    listing = {line.split()[0]: line.split()[4] for line in cli(["rules"], tmp_path).lines}
    assert listing["GS101"] == "safe" and listing["GS302"] == "unsafe" and listing["GS201"] == "-"
    assert cli(["explain", "GS302"], tmp_path).stdout.rstrip().endswith("Fix: unsafe (applied by --fix --unsafe-fixes)")
    data = json.loads(cli(["rules", "--format", "json"], tmp_path).stdout)
    assert {i["code"]: i["fix"] for i in data}["GS101"] == "safe"


# --- property: --fix over a copy of every fixture and of the bug bank's programs ------------------
@pytest.mark.parametrize("corpus", [FIXTURES, FIXTURES.parent / "bugbank" / "programs"], ids=["fixtures", "bugbank"])
def test_fix_over_every_fixture(tmp_path, corpus):
    root = tmp_path / "corpus"
    shutil.copytree(corpus, root)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".ipynb"))
    before_bytes = {p: p.read_bytes() for p in files}
    select = ["--select", "ALL"]

    def findings():
        r = cli([*ISOLATED, *select, "--output-format", "json", "--exit-zero", "."], root)
        return json.loads(r.stdout)

    found = findings()
    flagged = {(root / f["filename"]).resolve() for f in found}
    r = cli([*ISOLATED, *select, "--fix", "--unsafe-fixes", "--exit-zero", "."], root)
    assert r.code == 0 and "Fixed" in r.stderr and "does not parse" not in r.stderr, r
    changed = [p for p in files if p.read_bytes() != before_bytes[p]]
    assert changed, "the fixtures hold fixable findings"
    for p in files:
        if p.resolve() not in flagged:
            assert p.read_bytes() == before_bytes[p], f"{p} had no finding and changed"
        if p.suffix == ".py":
            cst.parse_module(p.read_bytes())
            compile(p.read_bytes(), str(p), "exec")
    after = findings()
    assert len(after) < len(found)
    # A notebook changes in its cells' source only: outputs, metadata and the rest as they were.
    notebooks = [p for p in changed if p.suffix == ".ipynb"]
    assert notebooks or corpus.name == "programs", "the notebook fixtures hold fixable findings"
    for p in notebooks:
        old, new = json.loads(before_bytes[p]), json.loads(p.read_bytes())
        for nb in (old, new):
            for cell in nb["cells"]:
                cell.pop("source")
        assert old == new
    # Idempotent: a second run finds nothing more to fix.
    snapshot = {p: p.read_bytes() for p in files}
    assert cli([*ISOLATED, *select, "--diff", "--unsafe-fixes", "."], root).code == 0
    assert {p: p.read_bytes() for p in files} == snapshot


# --- the README's commands, run as written ------------------------------------------------------
README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_fix_commands():
    text = README.read_text(encoding="utf-8")
    block = text.split("## Fixing", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].split() for line in block.splitlines() if line.strip()]


def test_readme_fix_commands_run_as_documented(tmp_path):
    commands = _readme_fix_commands()
    assert [c[:2] for c in commands] == [["gradscan", "--diff"], ["gradscan", "--fix"], ["gradscan", "--fix"]]
    shutil.copytree(README.parent / "examples", tmp_path / "examples")
    model = tmp_path / "examples" / "model.py"
    before = model.read_bytes()
    diff = run(["--no-cache", *commands[0][1:]], tmp_path)
    assert diff.code == 1 and "+        self.temperature = nn.Parameter(torch.ones(1))" in diff.stdout and model.read_bytes() == before, diff
    fixed = run(["--no-cache", *commands[1][1:]], tmp_path)
    assert fixed.code == 1 and fixed.codes() == ["GS201"], fixed  # the detach has no fix: it remains
    assert "posterior.rsample()" in model.read_text(encoding="utf-8")
    again = run(["--no-cache", *commands[2][1:]], tmp_path)
    assert again.code == 1 and again.codes() == ["GS201"]


def test_readme_configuration_example_loads(tmp_path):
    from gradscan.config import load_config

    text = README.read_text(encoding="utf-8")
    block = text.split("```toml\n[tool.gradscan]\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pyproject.toml").write_text("[tool.gradscan]\n" + block, encoding="utf-8")
    settings = load_config(tmp_path / "pyproject.toml")
    assert "GS103" not in settings.fixable_codes() and "GS101" in settings.fixable_codes()


# --- property: generated modules -----------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SPACE = st.sampled_from(["", " ", "  "])
_COMMENT = st.sampled_from(["", "  # keep", "  # noqa: GS999", "  # r'x' # y"])


@st.composite
def _modules(draw):
    """A torch module whose __init__ holds a random mix of fixable lines, spaced and commented at random."""
    torch_name, nn_import = draw(st.sampled_from([("torch", "from torch import nn"), ("th", "import torch.nn as nn"),
                                                  ("torch", "import torch.nn as tnn")]))
    nn_name = "tnn" if "tnn" in nn_import else "nn"
    head = [f"import torch as {torch_name}" if torch_name != "torch" else "import torch", nn_import, "", "",
            f"class M({nn_name}.Module):", "    def __init__(self, device):", "        super().__init__()"]
    body = []
    for i in range(draw(st.integers(1, 5))):
        s1, s2, c = draw(_SPACE), draw(_SPACE), draw(_COMMENT)
        kind = draw(st.sampled_from(["gs101", "gs102", "gs103", "gs103dict", "gs107", "clean"]))
        if kind == "gs101":
            body.append(f"        self.a{i} = {torch_name}.randn({s1}3,{s2}requires_grad=True{s1}){c}")
        elif kind == "gs102":
            body.append(f"        self.b{i} = {nn_name}.Parameter({torch_name}.zeros(2)).to({s1}device{s2}){c}")
        elif kind == "gs103":
            body.append(f"        self.c{i} = [{s1}{nn_name}.Linear(2, 2) for _ in range(2){s2}]{c}")
        elif kind == "gs103dict":
            body.append(f"        self.d{i} = {{{s1}'x': {nn_name}.Linear(2, 2),{s2}'y': {nn_name}.Linear(2, 2)}}{c}")
        elif kind == "gs107":
            body.append(f"        self.lin{i} = {nn_name}.Linear(2, 2)")
            body.append(f"        self.lin{i}.weight.require_grad{s1}={s2}False{c}")
        else:
            body.append(f"        self.e{i} = {nn_name}.Parameter({torch_name}.ones({s1}2{s2})){c}")
    return "\n".join(head + body) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_modules())
def test_generated_modules_fix_cleanly(source):
    before = check_source(source, "m.py")
    out, applied, error = fix_python_text(source, lambda t: check_source(t, "m.py"), ALL, False)
    assert error is None
    cst.parse_module(out)
    compile(out, "m.py", "exec")
    after = check_source(out, "m.py")
    fixable = [f for f in before if f.fix is not None and REGISTRY[f.code].fix_safety == "safe"]
    assert len(after) == len(before) - len(fixable), (source, out)
    assert not [f for f in after if f.fix is not None], "every safe fix was applied"
    # Lines without a fixable finding are untouched, byte for byte (comments included).
    fixed_lines = {f.line for f in fixable}
    for n, (old, new) in enumerate(zip(source.splitlines(), out.splitlines()), start=1):
        if n not in fixed_lines:
            assert old == new
        else:
            assert old.split("  #")[1:] == new.split("  #")[1:], "the line's comment is kept"
    assert fix_python_text(out, lambda t: check_source(t, "m.py"), ALL, False)[0] == out
