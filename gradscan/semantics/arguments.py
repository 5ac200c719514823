"""Which expression a call passes for a parameter: one lookup for every rule and analysis.

A keyword argument is found by name. A positional one is known only before the first `*args`:
`f(*xs, y)` passes `y` at an unknown position, not at position 0 (the unknown side: callers
get None and stay silent). `**kwargs` may hold any keyword, but never changes positions.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import libcst as cst

if TYPE_CHECKING:
    from gradscan.semantics.model import FunctionInfo


def keyword_argument(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    """The value passed as `name=...`, or None."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def positional_arguments(call: cst.Call) -> List[cst.BaseExpression]:
    """The positional arguments whose positions are known: those before the first `*args`."""
    out: List[cst.BaseExpression] = []
    for arg in call.args:
        if arg.keyword is not None or arg.star == "**":
            continue
        if arg.star:
            break
        out.append(arg.value)
    return out


def positional_argument(call: cst.Call, index: int) -> Optional[cst.BaseExpression]:
    """The argument at position `index`, or None (absent, or behind a `*args`)."""
    known = positional_arguments(call)
    return known[index] if 0 <= index < len(known) else None


def find_argument(call: cst.Call, index: Optional[int], name: Optional[str]) -> Optional[cst.BaseExpression]:
    """The argument passed as keyword `name`, else at position `index` (either may be None)."""
    if name is not None:
        value = keyword_argument(call, name)
        if value is not None:
            return value
    return positional_argument(call, index) if index is not None else None


def argument_for(fn: "FunctionInfo", call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    """The argument `call` passes for `fn`'s parameter `name`: by keyword, else by position
    (`self`/`cls` skipped for a method called through an object or `self.`); None when
    nothing is passed or a `*args` before it makes the position unknown."""
    value = keyword_argument(call, name)
    if value is not None:
        return value
    params = [p.name.value for p in (*fn.node.params.posonly_params, *fn.node.params.params)]
    if fn.cls is not None and fn.parent is None and params and params[0] in ("self", "cls"):
        params = params[1:]
    if name not in params:
        return None
    return positional_argument(call, params.index(name))


def argument_position(call: cst.Call, arg: cst.Arg) -> Optional[int]:
    """The position `arg` is passed at, or None (a keyword, a `*args`, or after one)."""
    index = 0
    for a in call.args:
        if a.keyword is not None or a.star == "**":
            continue
        if a.star:
            return None
        if a is arg:
            return index
        index += 1
    return None
