"""`gradscan.positions` gives the reported nodes the very ranges libcst's PositionProvider
gives them (it renders once and records only the nodes asked for)."""
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from gradscan.positions import positions

FIXTURES = Path(__file__).parent / "fixtures"

CASES = {
    "crlf": "import torch\r\nx = (1 +\r\n     2)\r\nif x:\r\n    y = -x  # c\r\n",
    "no final newline": "def f(a):\n    return a.detach()",
    "decorated and nested": "@torch.no_grad()\n@other\ndef f(x):\n    class A:\n        def g(self):\n            return [i for i in x]\n    return A\n",
    "backslash": "x = 1 + \\\n    2\nwith a as b, \\\n        c as d:\n    pass\n",
    "empty": "",
}


def _same(module: cst.Module) -> None:
    ref = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = list(ref)
    got, code = positions(module, nodes)
    assert code == module.code
    assert {n: got.get(n) for n in nodes} == {n: ref[n] for n in nodes}
    # a few nodes asked alone get the same ranges as when every node is asked
    for node in nodes[:: max(1, len(nodes) // 7)]:
        assert positions(module, [node])[0] == {node: ref[node]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ranges_match_libcst(name):
    _same(cst.parse_module(CASES[name]))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("torch_graph/*.py"))[:12], ids=lambda p: p.name)
def test_ranges_match_libcst_on_fixtures(path):
    _same(cst.parse_module(path.read_text(encoding="utf-8")))


def test_nodes_of_another_tree_are_not_placed():
    module = cst.parse_module("x = 1\n")
    other = cst.parse_module("y = 2\n").body[0]
    assert positions(module, [other])[0] == {}


def test_nesting_deeper_than_the_interpreter_allows_is_placed():
    """A chain of a thousand method calls renders past Python's recursion limit: it is placed
    all the same (on a large stack), never an exception."""
    module = cst.parse_module("y = x" + ".a()" * 1000 + "\n")
    got, code = positions(module, [module.body[0]])
    assert code is not None and code.startswith("y = x.a().a()") and len(code) == 4006
    assert got[module.body[0]] == CodeRange(CodePosition(1, 0), CodePosition(1, 4005))
