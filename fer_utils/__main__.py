import signal
import sys


def _stop_loading(signum, frame):
    """Ctrl-C or SIGTERM while the command line loads (cli.main then handles both): one line, no traceback."""
    how, status = ("interrupted (Ctrl-C)", 130) if signum == signal.SIGINT else ("terminated (SIGTERM)", 143)
    print(f"{how}: stopped while starting; nothing was done", file=sys.stderr)
    raise SystemExit(status)


signal.signal(signal.SIGTERM, _stop_loading)
try:
    from .cli import main
except KeyboardInterrupt:
    _stop_loading(signal.SIGINT, None)

raise SystemExit(main())
