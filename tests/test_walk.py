"""The fast walk (`gradscan.semantics.walk`) visits what libcst's own `visit` visits, in the same order,
and records each node's parent."""
from pathlib import Path

import libcst as cst
import pytest

from gradscan.semantics.walk import TRIVIA, children, index_tree

HERE = Path(__file__).parent
SOURCES = sorted((HERE / "fixtures").rglob("*.py")) + sorted((HERE.parent / "gradscan").rglob("*.py"))

TRICKY = '''
@decorator(arg)
class A(Base, metaclass=M):
    x: int = 1
    def f(self, a, /, b=2, *args, c, **kw) -> "T":
        return f"{a!r:>{b}} {c=}" + (lambda q: q)(1)[::2]
async def g():
    async with x as (y, z):
        await y
    async for i in z: pass
    try:
        pass
    except* ValueError as e:
        raise
    finally:
        del a, b
match p:
    case [1, *rest] | {"k": v, **kw} if v: pass
    case Point(x=0) as pt: pass
from . import (a as b, c)
from ..x import *
global q
x = [i for i in range(3) if i] ; y = {k: v for k, v in d.items()}
print(*a, **k) if t else None
'''


class _Recorder(cst.CSTVisitor):
    def __init__(self, skip=frozenset()):
        super().__init__()
        self.seq = []
        self.skip = skip

    def on_visit(self, node):
        if type(node) in self.skip:
            return False
        self.seq.append(("visit", id(node)))
        return True

    def on_leave(self, original_node):
        if type(original_node) not in self.skip:
            self.seq.append(("leave", id(original_node)))


def _modules():
    yield "tricky", cst.parse_module(TRICKY)
    for path in SOURCES[:: max(1, len(SOURCES) // 20)]:
        try:
            yield path.name, cst.parse_module(path.read_text(encoding="utf-8"))
        except Exception:
            continue


NODE_TYPES = [c for c in vars(cst).values() if isinstance(c, type) and issubclass(c, cst.CSTNode)]


def _index(module, skip):
    """index_tree with a handler for every node type: (visit/leave sequence, nodes, parents)."""
    seq = []
    visit = {c: (lambda node: seq.append(("visit", id(node)))) for c in NODE_TYPES}
    leave = {c: (lambda node: seq.append(("leave", id(node)))) for c in NODE_TYPES}
    parents = {}
    nodes = index_tree(module, skip, visit, leave, parents)
    return seq, nodes, parents


@pytest.mark.parametrize("skip", [frozenset(), TRIVIA], ids=["all", "no-trivia"])
def test_walk_matches_libcst_visit(skip):
    for name, module in _modules():
        expected = _Recorder(skip)
        module.visit(expected)
        seq, nodes, _ = _index(module, skip)
        assert seq == expected.seq, name
        assert [id(n) for n in nodes] == [i for kind, i in expected.seq if kind == "visit"][1:], name


def test_parents_are_libcst_parents():
    module = cst.parse_module(TRICKY)
    _, nodes, parents = _index(module, frozenset())
    todo = [module]
    while todo:
        node = todo.pop()
        for child in node.children:
            assert parents[id(child)] is node
        todo.extend(node.children)
    assert len(parents) == len(nodes)


def test_children_matches_libcst_children():
    module = cst.parse_module(TRICKY)
    todo = [module]
    while todo:
        node = todo.pop()
        assert [id(c) for c in children(node)] == [id(c) for c in node.children], type(node).__name__
        todo.extend(node.children)


def test_handlers_only_for_their_types():
    module = cst.parse_module("f(g(x))\n")
    seen = []
    index_tree(module, TRIVIA, {cst.Call: lambda n: seen.append(("call", cst.Module([]).code_for_node(n)))},
               {cst.Call: lambda n: seen.append(("left", cst.Module([]).code_for_node(n)))}, {})
    assert seen == [("call", "f(g(x))"), ("call", "g(x)"), ("left", "g(x)"), ("left", "f(g(x))")]


def test_descendants_matches_libcst_visit_and_prunes():
    from gradscan.semantics.walk import descendants

    for name, module in _modules():
        expected = _Recorder(TRIVIA)
        module.visit(expected)
        assert [id(n) for n in descendants(module)] == [i for kind, i in expected.seq if kind == "visit"], name

    module = cst.parse_module("def f():\n    a = g(1)\nb = h(2)\n")
    names = [n.value for n in descendants(module, prune=(cst.FunctionDef,)) if type(n) is cst.Name]
    assert names == ["b", "h"]


def test_mentions_name():
    import libcst as cst

    from gradscan.semantics.walk import mentions_name

    expr = cst.parse_expression("f(a.b, c + 1)")
    assert mentions_name(expr, "c") and mentions_name(expr, {"x", "a"})
    assert not mentions_name(expr, "d") and not mentions_name(expr, set())
