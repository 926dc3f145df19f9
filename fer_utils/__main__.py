import signal

from .interrupts import stopped

STARTING = "stopped while starting; nothing was done"


def _terminated_while_starting(signum, frame) -> None:
    raise SystemExit(stopped(signal.SIGTERM, STARTING))


# Ctrl-C or SIGTERM while the command line loads: one line, no traceback (cli.main handles them from then on)
signal.signal(signal.SIGTERM, _terminated_while_starting)
try:
    from .cli import main
except KeyboardInterrupt:
    raise SystemExit(stopped(signal.SIGINT, STARTING)) from None

raise SystemExit(main())
