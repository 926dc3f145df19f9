"""Writing files safely: every file the project writes goes through `atomic_write`, so a reader never
sees half a file and a crash or a full disk leaves the previous file whole."""
from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class DiskFullError(OSError):
    """A write failed for lack of space; the previous file, if any, is intact."""


def atomic_write(path: str | os.PathLike, write: Callable[[Path], T]) -> T:
    """Call `write(tmp)` with a temporary path beside `path` (same folder and extension), then rename it
    to `path` in one step. On any failure the temporary file is removed and `path` is left as it was;
    a full disk raises DiskFullError naming the file and the free space. Returns what `write` returns."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        result = write(tmp)
        os.replace(tmp, path)
        return result
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(path.parent).free
            raise DiskFullError(e.errno, f"the disk is full: {path} could not be written ({free / 1e6:.1f} MB free; "
                                f"{path.name} was left as it was): free some space and run again") from e
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through `atomic_write`."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 `text` to `path` through `atomic_write`."""
    write_bytes(path, text.encode("utf-8"))
