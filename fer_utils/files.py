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


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when two paths name one file: through links, `..`, and letter case where the file system
    ignores it (an existing file is compared by device and inode)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def refuse_overwriting_inputs(outputs: list[Path | None], inputs: list[str | os.PathLike]) -> None:
    """A ValueError naming both paths if an output would replace one of the inputs."""
    for out in outputs:
        for name in inputs if out is not None else ():
            if same_file(out, name):
                raise ValueError(f"--out {out} is the input {name} itself: writing it would replace the input; "
                                 f"choose another output name")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through `atomic_write`."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 `text` to `path` through `atomic_write`."""
    write_bytes(path, text.encode("utf-8"))


class FolderLock:
    """One writer per folder: `with FolderLock(folder):` creates folder/.lock holding this process's PID and
    start time, and removes it on exit. A second process gets a ValueError naming the holder; a lock whose
    holder is gone (crashed, killed) is cleared and taken over."""

    def __init__(self, folder: str | os.PathLike, what: str = "folder"):
        self.path, self.what = Path(folder) / ".lock", what

    def __enter__(self) -> "FolderLock":
        me = f"{os.getpid()} {_start_time(os.getpid())}"
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self.path.read_text().split() if self.path.exists() else []
                if len(holder) == 2 and holder[0].isdigit() and _start_time(int(holder[0])) == holder[1]:
                    raise ValueError(f"{self.path.parent} is in use by another {self.what} (process {holder[0]}, still "
                                     f"running): wait for it to finish, or give another folder") from None
                self.path.unlink(missing_ok=True)  # its holder is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me)
            return self
        raise ValueError(f"could not lock {self.path.parent}: another process keeps taking it; try again")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _start_time(pid: int) -> str:
    """A process's start time (clock ticks since boot, from /proc), '' where there is none: with the PID it
    names one process, even after the PID is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return "alive"
        except OSError:
            return ""
