"""The metamorphic tier: rewrites that keep a bank program's behaviour keep its findings."""
import ast

import pytest

from tests.bugbank.bank import half_of, programs, read_split
from tests.bugbank.metamorphic import baseline, measure, rename_attrs, rename_names, split_definitions, to_notebook, wrap_main

SAMPLE = '''"""doc"""
import torch
from torch import nn


class Net(nn.Module):
    scale = 2

    def __init__(self, width):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        return self.head(x * self.weight * self.scale)


def loss_of(model, x):
    return model(x).sum()


model = Net(width=3)
loss = loss_of(model, torch.ones(2, 3))  # BUG
loss.backward()
'''


def test_names_keeps_keywords_imports_methods_and_class_attributes():
    code = rename_names(SAMPLE)[""]
    ast.parse(code)
    assert "class Net" not in code and "def loss_of" not in code and "model = " not in code
    for kept in ("width=3", "import torch", "from torch import nn", "def forward(self, q", "self.scale",
                 "scale = 2", "nn.Linear", ".backward()", "# BUG"):
        assert kept in code, kept


def test_attrs_keeps_framework_attributes():
    code = rename_attrs(SAMPLE)[""]
    assert "self.weight" in code and "self.head" not in code and "# BUG" in code


def test_main_wraps_the_script_and_split_moves_definitions():
    wrapped = wrap_main(SAMPLE)[""]
    tree = ast.parse(wrapped)
    assert [type(s).__name__ for s in tree.body][-2:] == ["FunctionDef", "If"]
    files = split_definitions(SAMPLE)
    assert "class Net" in files["_lib"] and "class Net" not in files[""]
    assert "from LIBMODULE import Net, loss_of" in files[""] and "# BUG" in files[""]


@pytest.mark.parametrize("transform", ["names", "attrs", "imports", "main", "split", "notebook"])
def test_dev_half_findings_survive_the_rewrite(transform):
    """Every dev-half bug found as written is still found once rewritten, and no clean program
    gains a finding: a rule that decides from names or layout fails here."""
    split = read_split()
    dev = [p for p in programs() if split.get(p.name, (half_of(p.pair),))[0] == "dev"]
    base = {p.name: (found, false) for p, found, false in baseline(dev)}
    results = measure(dev, transform)
    lost = [p.name for p, found, _ in results if p.label == "buggy" and base[p.name][0] and not found]
    gained = [p.name for p, _, false in results if false > base[p.name][1]]
    assert not lost and not gained, (lost, gained)


def test_notebook_cells_hold_the_program_without_its_main_guard():
    import json

    nb = json.loads(to_notebook(SAMPLE)[".ipynb"])
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert kinds[0] == "markdown" and set(kinds[1:]) == {"code"}
    code = ["".join(c["source"]) for c in nb["cells"][1:]]
    assert code[0].startswith("%matplotlib") and "class Net" in code[2] and "__main__" not in "".join(code)
    assert any("# BUG" in c for c in code)


def test_the_command_prints_the_table(capsys):
    # the command docs/evaluation.md shows
    from tests.bugbank import metamorphic

    assert metamorphic.main(["--transform", "attrs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| transform | buggy found |") and "| attrs |" in out and "| none |" in out
