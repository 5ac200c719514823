"""The progress line of long runs: on a terminal only, on standard error, after about a second.

Pipes, CI logs and the machine formats never see it (the caller decides with `wanted`); it is
erased before anything else is printed, so the findings read as if it had never been there.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Optional, TextIO

# Seconds of silence before the line appears: short runs never show it. (GRADSCAN_PROGRESS_DELAY
# sets it, so that a test of the line does not depend on how fast the machine is.)
DELAY = float(os.environ.get("GRADSCAN_PROGRESS_DELAY", "1.0"))
INTERVAL = 0.1  # at most ten redraws a second


def wanted(stream: TextIO, output_format: str, quiet: bool) -> bool:
    if quiet or output_format not in ("concise", "full") or os.environ.get("CI"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Call with (files done, total); `close()` erases the line if it was drawn."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.clock = stream, clock
        self.start = clock()
        self.last: Optional[float] = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        elapsed = now - self.start
        if elapsed < DELAY or (self.last is not None and now - self.last < INTERVAL and done < total):
            return
        self.last = now
        rate = done / elapsed if elapsed > 0 else 0.0
        # \r and "erase to the end of the line": redraw in place, whatever was there
        self.stream.write(f"\r\x1b[Kchecking {done:,}/{total:,} files ({rate:,.0f} files/s)")
        self.stream.flush()

    def close(self) -> None:
        if self.last is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.last = None
