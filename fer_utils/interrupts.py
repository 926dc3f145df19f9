"""Ctrl-C and SIGTERM on the command line: SIGTERM is raised as `Terminated` in the main thread, as Ctrl-C
raises KeyboardInterrupt, so that every `finally` runs (atomic_write removes its temporary file, a training
run's lock is released) and the command ends with one line and exit status 130 or 143."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt: `except Exception` does not swallow it)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside the block, SIGTERM raises Terminated (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def stopped(error: BaseException, what_is_left: str) -> int:
    """Print the one line for a KeyboardInterrupt or Terminated `error` and return its exit status (130, 143)."""
    how, status = ("interrupted (Ctrl-C)", 130) if isinstance(error, KeyboardInterrupt) else ("terminated (SIGTERM)", 143)
    print(f"{how}: {what_is_left}", file=sys.stderr, flush=True)
    return status


def warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A Python warning as one `warning:` line on stderr, like the errors (for `warnings.showwarning`)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
