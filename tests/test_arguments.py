"""The one argument lookup (gradscan.semantics.arguments): positions after `*args` are unknown."""
import libcst as cst

from gradscan.semantics.arguments import (
    argument_position, find_argument, keyword_argument, positional_argument, positional_arguments,
)


def call(text: str) -> cst.Call:
    return cst.parse_expression(text)


def code(expr) -> str:
    return cst.Module([]).code_for_node(expr) if expr is not None else None


def test_keyword_then_position():
    c = call("f(a, b, c=d)")
    assert code(find_argument(c, 1, "b")) == "b"
    assert code(find_argument(c, 2, "c")) == "d"
    assert code(keyword_argument(c, "c")) == "d"
    assert find_argument(c, 2, "e") is None


def test_a_position_after_star_args_is_unknown_not_shifted():
    c = call("f(a, *rest, b)")
    assert code(positional_argument(c, 0)) == "a"
    assert positional_argument(c, 1) is None  # `b` is at an unknown position, not 1
    assert [code(v) for v in positional_arguments(c)] == ["a"]
    assert argument_position(c, c.args[2]) is None
    assert argument_position(c, c.args[0]) == 0


def test_double_star_kwargs_do_not_move_positions():
    c = call("f(a, b, **options)")
    assert code(positional_argument(c, 1)) == "b"
    assert keyword_argument(c, "b") is None
