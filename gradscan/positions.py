"""Where reported nodes are: libcst's `PositionProvider` ranges, for the few nodes a file
reports only.

libcst's provider records a range for every node of the module while rendering it (on a
4,000-line file: longer than parsing it, six times a plain render). Findings need a handful:
this renders the module once, counting characters, records the wanted nodes (and the children
their ranges are taken from), and turns offsets into lines and columns at the end. The ranges
are the provider's: syntactic where a node records one, else whitespace-inclusive.
"""
from __future__ import annotations

import re
import sys
import threading
from bisect import bisect_right
from contextlib import contextmanager
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState  # the render hook libcst's own providers use
from libcst._position import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")


class _Offsets(CodegenState):
    """A render that keeps character offsets of the wanted nodes."""

    def __init__(self, module: cst.Module, wanted: Iterable[cst.CSTNode]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.wanted = set(map(id, wanted))
        self.size = 0
        self.stack: List[int] = []
        self.found: Dict[int, Tuple[int, int]] = {}
        self.popped = ""

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.size += len(value)

    def pop_trailing_newline(self) -> None:
        # libcst's provider keeps counting the popped newline (ranges may end on the line after)
        if self.tokens:
            self.popped = self.tokens.pop()

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.stack.append(self.size)

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self.stack.pop()
        key = id(node)
        if key in self.wanted and key not in self.found:
            self.found[key] = (start, self.size)

    @contextmanager
    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: Optional[cst.CSTNode] = None,
                                  end_node: Optional[cst.CSTNode] = None) -> Iterator[None]:
        key = id(node)
        if key in self.wanted:  # its range may be hoisted from children: record them too
            if start_node is not None:
                self.wanted.add(id(start_node))
            if end_node is not None:
                self.wanted.add(id(end_node))
        start = self.size
        try:
            yield
        finally:
            if key in self.wanted:
                end = self.size
                if start_node is not None and id(start_node) in self.found:
                    start = self.found[id(start_node)][0]
                if end_node is not None and id(end_node) in self.found:
                    end = self.found[id(end_node)][1]
                self.found[key] = (start, end)


def positions(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Tuple[Dict[cst.CSTNode, CodeRange], Optional[str]]:
    """({node: its range} for the nodes of `module` among `nodes`, the module's code); ({}, None)
    when the module is nested too deeply to render even on a large stack."""
    wanted = [n for n in nodes if isinstance(n, cst.CSTNode)]
    try:
        return _positions(module, wanted)
    except RecursionError:
        pass
    # libcst renders recursively: nesting Python accepts (a few hundred calls or unary
    # operators) can exceed the interpreter's limit. Again in a thread with a large stack.
    found: list = []

    def run() -> None:
        try:
            found.append(_positions(module, wanted))
        except RecursionError:
            pass

    limit, size = sys.getrecursionlimit(), threading.stack_size()
    try:
        threading.stack_size(256 * 1024 * 1024)
        sys.setrecursionlimit(max(limit, 100_000))
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    finally:
        sys.setrecursionlimit(limit)
        threading.stack_size(size)
    return found[0] if found else ({}, None)


def _positions(module: cst.Module, wanted: List[cst.CSTNode]) -> Tuple[Dict[cst.CSTNode, CodeRange], str]:
    state = _Offsets(module, wanted)
    module._codegen(state)
    code = "".join(state.tokens)
    starts = [0] + [m.end() for m in _NEWLINE.finditer(code + state.popped)]

    def at(offset: int) -> CodePosition:
        line = bisect_right(starts, offset)
        return CodePosition(line, offset - starts[line - 1])

    out = {}
    for node in wanted:
        found = state.found.get(id(node))
        if found is not None:
            out[node] = CodeRange(at(found[0]), at(found[1]))
    return out, code
