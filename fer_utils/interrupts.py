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


_received: list[int] = []  # the signals that arrived inside `signals_raise`, whatever exception they turned into


def _raise_terminated(signum, frame) -> None:
    _received.append(signum)
    raise Terminated


def _raise_interrupt(signum, frame) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def signal_received() -> int | None:
    """SIGINT or SIGTERM if one arrived inside `signals_raise`: an exception raised in a library's import or
    C++ code may reach the caller as another error (an ImportError), which then means "interrupted"."""
    return _received[-1] if _received else None


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Inside the block, SIGTERM raises Terminated and Ctrl-C KeyboardInterrupt (as usual, unless the process
    was started with Ctrl-C ignored), and both are remembered (`signal_received`). Main thread only; in
    other threads nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


def stopped(signum: int, what_is_left: str) -> int:
    """Print the one line for SIGINT (Ctrl-C) or SIGTERM and return its exit status (130, 143)."""
    how, status = ("interrupted (Ctrl-C)", 130) if signum == signal.SIGINT else ("terminated (SIGTERM)", 143)
    print(f"{how}: {what_is_left}", file=sys.stderr, flush=True)
    return status


def warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A Python warning as one `warning:` line on stderr, like the errors (for `warnings.showwarning`)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
