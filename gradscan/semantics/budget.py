"""The per-file time budget: a safety net against an analysis that would run for minutes.

The engine starts the budget before it parses a file (`start(deadline)`) and stops it when the
rules are done. The analyses' inner loops call `tick()`: every `EVERY` ticks it looks at the
clock and raises `BudgetExceeded` once the deadline has passed. The engine then reports the
file as cut short (GS002) with what was found until then.

`BudgetExceeded` derives from BaseException, not Exception, so that the `except Exception`
guards in rules and in the semantic model (which turn a bug into GS000) let it through.

One budget per process, not per thread: the engine checks one file at a time in a process
(workers are processes). A checking thread that is not the one that started the budget would
share its deadline.
"""
from __future__ import annotations

from time import perf_counter
from typing import Callable, List, Optional

# Ticks between two looks at the clock: a tick costs a decrement, the clock ten times that.
# The ticks sit in loops whose iterations take microseconds, so the deadline is noticed
# within a fraction of a millisecond of passing.
EVERY = 64
# A file's analysis may always take this many times its parse: a large module that parses in
# 2 s is not cut short after 10 s.
PARSE_FACTOR = 20
# Of those, what reporting may take after the analysis stops: positions come from a codegen of
# the whole module (about 2-4 parses), so the analysis itself stops this many parses earlier.
FINISH_RESERVE = 5


class BudgetExceeded(BaseException):
    """The file's analysis went past its deadline."""


_deadline: Optional[float] = None
_left = EVERY
# Told (seconds from now) when a file's budget is set: a worker process writes it where the
# process that waits for it can see it (gradscan.runner stops a worker that overruns it).
_listeners: List[Callable[[float], None]] = []


def start(deadline: Optional[float]) -> None:
    """Give the analysis until `deadline` (a `time.perf_counter()` value; None: no limit)."""
    global _deadline, _left
    _deadline = deadline
    _left = EVERY
    if deadline is not None:
        for listener in _listeners:
            listener(deadline - perf_counter())


def stop() -> None:
    global _deadline
    _deadline = None


def deadline_for(started: float, parse_seconds: float, seconds: float) -> Optional[float]:
    """The deadline of a file whose check began at `started` (a perf_counter value) and whose
    parse took `parse_seconds`: `seconds` or PARSE_FACTOR times the parse (less what reporting
    needs, FINISH_RESERVE parses), whichever is longer.
    `seconds` <= 0: no budget."""
    if not seconds or seconds <= 0:
        return None
    return started + max(seconds, (PARSE_FACTOR - FINISH_RESERVE) * parse_seconds)


def tick() -> None:
    """Called in the analyses' hot loops; raises BudgetExceeded past the deadline."""
    global _left
    _left -= 1
    if _left <= 0:
        _look()


def _look() -> None:
    global _left
    _left = EVERY
    if _deadline is not None and perf_counter() > _deadline:
        raise BudgetExceeded()


def add_listener(listener: Callable[[float], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)
