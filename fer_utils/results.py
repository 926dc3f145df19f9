"""What the project records about a run stays portable: paths and command lines written into model
cards and results files are relative to the checkout, or a placeholder, never this machine's layout.

- `portable_path(path)`: relative to the project when the file is inside it, else `PATH/TO/<name>`.
- `portable_command(prefix, args)`: a command line with every path argument made portable.
- `MACHINE_PATH`: the pattern `tests/test_output_hygiene.py` fails on (absolute home, work and temporary
  folders, Windows drives, and the `../shared` folder of the machine the series was built on).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .data import PROJECT_ROOT

PLACEHOLDER_DIR = "PATH/TO"
MACHINE_PATH = re.compile(r"(?<![\w.~/-])(?:/work/|/home/|/tmp/|/Users/|/root/|/mnt/|/srv/|/var/folders/"
                          r"|[A-Za-z]:\\\\?|\.\./shared/)")


def portable_path(path: str | os.PathLike, root: Path = PROJECT_ROOT, base: Path | None = None) -> str:
    """`path` relative to `root` (POSIX slashes) when it lies inside it, else `PATH/TO/<file name>`; a
    relative `path` is taken relative to `base` (default: the current folder)."""
    path = Path(path).expanduser()
    resolved = (path if path.is_absolute() or base is None else base / path).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"{PLACEHOLDER_DIR}/{resolved.name}"


def _looks_like_path(word: str) -> bool:
    return "/" in word or "\\" in word or Path(word).is_absolute()


def portable_command(prefix: str, args: list[str], root: Path = PROJECT_ROOT, base: Path | None = None) -> str:
    """`prefix` followed by `args`, each argument (or the value of `--option=value`) that looks like a
    path made portable by `portable_path`; options and plain values are kept as they are."""
    words = []
    for arg in args:
        option, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if value and not value.startswith("-") and _looks_like_path(value):
            value = portable_path(value, root, base)
        words.append(f"{option}{eq}{value}")
    return " ".join([prefix, *words]).strip()


def portable_recorded(command: str, root: Path = PROJECT_ROOT) -> str:
    """A command line already recorded as text (e.g. copied from a model card), made portable; its
    relative paths are taken as relative to the project (where the series' commands run)."""
    prefix_words, args = [], command.split()
    while args and not args[0].startswith("-") and not _looks_like_path(args[0]) and len(prefix_words) < 3:
        prefix_words.append(args.pop(0))
    return portable_command(" ".join(prefix_words), args, root, base=root) if command else command
