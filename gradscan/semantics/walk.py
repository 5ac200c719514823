"""A fast pre-order walk over a libcst tree, in exactly libcst's own visiting order.

`node.visit(visitor)` rebuilds every node it passes (libcst's `_visit_and_replace_children`
constructs and validates a new node even for a read-only `CSTVisitor`), which makes a bare
visitor pass cost about half of the parse itself. This walk only reads the fields. The order of
the fields of each node type is taken once per process from libcst itself (the field names
that `_visit_and_replace_children` announces through `on_visit_attribute`), so the walk visits
the same nodes in the same order as `node.visit`, for whatever libcst version is installed.

`index_tree(root, skip, visit, leave, parents)` returns every node in that order and records
each one's parent; it calls a handler only for the node types that have one (the semantic model
wants calls, assignments, definitions...: a call for each of a million nodes would cost a tenth
of the parse).
"""
from __future__ import annotations

import dataclasses
from itertools import repeat
from typing import Callable, Dict, Iterator, List, Set, Tuple

import libcst as cst

_ORDERS: Dict[type, Tuple[str, ...]] = {}
_MAYBE: Dict[type, Tuple[str, ...]] = {}  # fields not yet seen set on an instance of the type
_SCALARS: Dict[type, Set[str]] = {}  # fields seen set but not visited: plain values
_FIELDS: Dict[type, Tuple[str, ...]] = {}
_LEAN: Dict[type, Tuple[str, ...]] = {}  # _ORDERS without the fields typed to hold only TRIVIA


class _FieldRecorder(cst.CSTVisitor):
    """Records the field names a node's `_visit_and_replace_children` visits, without descending."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: List[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_leave(self, original_node: cst.CSTNode) -> None:
        pass

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        self.fields.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


def field_order(node: cst.CSTNode) -> Tuple[str, ...]:
    """The names of `node`'s child fields, in the order libcst visits them."""
    kind = type(node)
    order = _ORDERS.get(kind)
    if order is None or kind in _MAYBE:
        order = _record(node)
    return order


def _record(node: cst.CSTNode) -> Tuple[str, ...]:
    kind = type(node)
    recorder = _FieldRecorder()
    node._visit_and_replace_children(recorder)  # shallow: the recorder does not descend
    order = tuple(dict.fromkeys(recorder.fields))
    old = _ORDERS.get(kind)
    if old is not None and old != order:
        # A conditional field (visited only when set) showed up: merge, keeping libcst's order.
        merged = list(order)
        for name in old:
            if name not in merged:
                merged.append(name)
        order = tuple(merged)
    # Fields this instance did not announce because they were empty (libcst visits some fields,
    # like an f-string's `format_spec`, only when they are set): check them on later instances.
    unknown = [f for f in _field_names(kind) if f not in order and _empty(getattr(node, f, None))]
    known_scalar = _SCALARS.setdefault(kind, set())
    known_scalar.update(f for f in _field_names(kind) if f not in order and not _empty(getattr(node, f, None)))
    unknown = tuple(f for f in unknown if f not in known_scalar)
    if unknown:
        _MAYBE[kind] = unknown
    else:
        _MAYBE.pop(kind, None)
    _ORDERS[kind] = order
    trivial = _trivia_fields(kind)
    _LEAN[kind] = tuple(f for f in order if f not in trivial)
    return order


def _trivia_fields(kind: type) -> Set[str]:
    """Fields whose declared type admits only TRIVIA nodes (`lpar: Sequence[LeftParen]`,
    `whitespace_after: BaseParenthesizableWhitespace`): a walk that skips trivia need not read them."""
    out: Set[str] = set()
    for f in dataclasses.fields(kind):
        classes = _node_classes(f.type)
        if classes and all(_only_trivia(c) for c in classes):
            out.add(f.name)
    return out


def _node_classes(annotation) -> List[type]:
    """The node classes a field annotation names, or [] when it names anything else (a string,
    a forward reference): then the field is read."""
    import typing

    if isinstance(annotation, type):
        return [annotation] if issubclass(annotation, cst.CSTNode) else ([] if annotation is not type(None) else [type(None)])
    origin = typing.get_origin(annotation)
    if origin is None:
        return []
    out: List[type] = []
    for arg in typing.get_args(annotation):
        if arg is type(None) or arg is cst.MaybeSentinel:
            continue
        inner = _node_classes(arg)
        if not inner:
            return []
        out.extend(c for c in inner if c is not type(None))
    return out


def _only_trivia(cls: type) -> bool:
    # By name too: libcst's slots decorator re-creates each class, and the original stays
    # among its base's __subclasses__().
    if cls in TRIVIA or (cls.__module__, cls.__qualname__) in _TRIVIA_NAMES:
        return True
    subclasses = cls.__subclasses__()
    return bool(subclasses) and getattr(cls, "__abstractmethods__", None) is not None and all(_only_trivia(c) for c in subclasses)


def _empty(value) -> bool:
    return value is None or value is _SENTINEL or (type(value) in (tuple, list) and not value)


def _field_names(kind: type) -> Tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def _order_of(node: cst.CSTNode, table: Dict[type, Tuple[str, ...]] = _ORDERS) -> Tuple[str, ...]:
    kind = type(node)
    order = table.get(kind)
    if order is None:
        _record(node)
        return table[kind]
    maybe = _MAYBE.get(kind)
    if maybe is not None and any(not _empty(getattr(node, f, None)) for f in maybe):
        _record(node)
        return table[kind]
    return order


_SENTINEL = cst.MaybeSentinel.DEFAULT


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """Direct children, in libcst's visiting order (as `node.children`, much faster)."""
    return _children(node, _order_of(node), frozenset())


def _children(node: cst.CSTNode, order: Tuple[str, ...], skip: frozenset) -> List[cst.CSTNode]:
    out: List[cst.CSTNode] = []
    for name in order:
        value = getattr(node, name)
        if value is None or value is _SENTINEL:
            continue
        vt = type(value)
        if vt is tuple or vt is list:
            out.extend([v for v in value if type(v) not in skip] if skip else value)
        elif vt not in skip:
            out.append(value)
    return out


# Whitespace, comments and punctuation: no rule asks about them, and they are more than half
# of the nodes of a typical file. `index_tree(..., skip=TRIVIA)` does not enter them.
TRIVIA = frozenset({
    cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.EmptyLine,
    cst.Newline, cst.Comment, cst.Comma, cst.Dot, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace,
    cst.AssignEqual, cst.Colon, cst.Semicolon,
})

_TRIVIA_NAMES = frozenset((c.__module__, c.__qualname__) for c in TRIVIA)


def index_tree(root: cst.CSTNode, skip: frozenset, visit: Dict[type, Callable], leave: Dict[type, Callable],
               parents: Dict[int, cst.CSTNode]) -> List[cst.CSTNode]:
    """The nodes under `root` in visiting order (root excluded, and nothing of a type in `skip`),
    with each one's parent recorded in `parents` by id. `visit[type(node)](node)` is called as
    the walk reaches a node of a type in `visit` (its parent is already in `parents`), and
    `leave[type(node)](node)` once the children of a node of a type in `leave` are done."""
    nodes: List[cst.CSTNode] = []
    orders = _LEAN if skip is TRIVIA else _ORDERS
    maybe = _MAYBE
    sentinel = _SENTINEL
    on_visit = visit.get
    todo: list = [root]
    pop = todo.pop
    push = todo.append
    add_node = nodes.append
    while todo:
        node = pop()
        kind = type(node)
        if kind is tuple:  # (node,): all its children are done
            leave[type(node[0])](node[0])
            continue
        add_node(node)
        handler = on_visit(kind)
        if handler is not None:
            handler(node)
        order = orders.get(kind)
        if order is None or kind in maybe:
            order = _order_of(node, orders)
        if kind in leave:
            push((node,))
        if not order:
            continue
        # `_children`, inlined: this loop runs for every node of every file.
        kids: list = []
        add = kids.append
        for name in order:
            value = getattr(node, name)
            if value is None or value is sentinel:
                continue
            vt = type(value)
            if vt is tuple or vt is list:
                if value:
                    if type(value[0]) in skip:
                        kids.extend([v for v in value if type(v) not in skip])
                    else:
                        kids.extend(value)
            elif vt not in skip:
                add(value)
        parents.update(zip(map(id, kids), repeat(node)))
        kids.reverse()  # the stack pops from the end: first child last
        todo.extend(kids)
    del nodes[0]  # the root
    return nodes


def descendants(root: cst.CSTNode, prune: Tuple[type, ...] = ()) -> Iterator[cst.CSTNode]:
    """`root` and the nodes under it in visiting order, without whitespace, comments and
    punctuation; a node whose type is in `prune` is yielded but not entered. (For the questions
    a rule asks about one expression or block: a libcst visitor would rebuild every node.)"""
    todo: list = [root]
    pop = todo.pop
    while todo:
        node = pop()
        yield node
        kind = type(node)
        if kind in prune:
            continue
        order = _LEAN.get(kind)
        if order is None or kind in _MAYBE:
            order = _order_of(node, _LEAN)
        kids = _children(node, order, TRIVIA)
        kids.reverse()
        todo.extend(kids)


def target_names(target, items: bool = False) -> List[str]:
    """The plain names an assignment target binds (`a`, `a, (b, *c)`); attributes bind none.
    With `items`, an item store binds its container too (`out[i] = v` -> `out`: the value
    now holds `v`)."""
    t = type(target)
    if t is cst.Name:
        return [target.value]
    if t is cst.Tuple or t is cst.List:
        return [n for el in target.elements for n in target_names(el.value, items)]
    if t is cst.StarredElement:
        return target_names(target.value, items)
    if items and t is cst.Subscript and type(target.value) is cst.Name:
        return [target.value.value]
    return []


def mentions_name(node: cst.CSTNode, names) -> bool:
    """Whether a plain name in `names` (one name, or a collection of them) occurs in `node`."""
    wanted = {names} if isinstance(names, str) else names
    return any(type(n) is cst.Name and n.value in wanted for n in descendants(node))
