import signal

from .interrupts import Terminated, stopped

STARTING = "stopped while starting; nothing was done"


def _terminated_while_starting(signum, frame) -> None:
    raise SystemExit(stopped(Terminated(), STARTING))


# Ctrl-C or SIGTERM while the command line loads: one line, no traceback (cli.main handles them from then on)
signal.signal(signal.SIGTERM, _terminated_while_starting)
try:
    from .cli import main
except KeyboardInterrupt as e:
    raise SystemExit(stopped(e, STARTING)) from None

raise SystemExit(main())
