"""Writing files safely: every file the project writes goes through `atomic_write`, so a reader never
sees half a file and a crash or a full disk leaves the previous file whole."""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class DiskFullError(OSError):
    """A write failed for lack of space; the previous file, if any, is intact. `needed_bytes`: about how
    much free space the write needs (the size of the file's last version, or what was written before
    the disk filled up)."""

    def __init__(self, code: int, message: str, needed_bytes: int = 0):
        super().__init__(code, message)
        self.needed_bytes = needed_bytes

    def __str__(self) -> str:
        return self.strerror


TEMP_MARK = ".tmp"  # temporary files are named .NAME.PID-XXXXXXXX.tmp.EXT (hidden, beside their target)
_TEMP_NAME = re.compile(r"^\..*\.(\d+)-[0-9a-f]{8}\.tmp(\.[^/]*)?$")


def temp_path(path: str | os.PathLike) -> Path:
    """The temporary file `atomic_write` writes before renaming it to `path`: hidden, in the same folder, with
    the same last two extensions (.weights.h5, .csv.gz: libraries that check a name's ending accept it)."""
    path = Path(path)
    keep = "".join(path.suffixes[-2:]) if len(path.name) > len("".join(path.suffixes[-2:])) else ""
    base = path.name[:len(path.name) - len(keep)]
    return path.with_name(f".{base}.{os.getpid()}-{uuid.uuid4().hex[:8]}{TEMP_MARK}{keep}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], T]) -> T:
    """Call `write(tmp)` with a temporary path beside `path` (same folder and extension, see `temp_path`),
    then rename it to `path` in one step. On any failure or interrupt the temporary file is removed and `path`
    is left as it was; a full disk raises DiskFullError naming the file, the free space and about how much
    space the write needs. Returns what `write` returns."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        result = write(tmp)
        os.replace(tmp, path)
        return result
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(e, DiskFullError):
            raise disk_full(path, e.errno, _size(tmp)) from e
        raise
    finally:
        tmp.unlink(missing_ok=True)


def disk_full(path: Path, code: int = errno.ENOSPC, written: int = 0) -> DiskFullError:
    """The DiskFullError for `path`: the free space, and the space needed (its last version's size, or at
    least the `written` bytes that fit before the disk filled up)."""
    free = shutil.disk_usage(path.parent).free
    needed = max(_size(path), written)
    need = f"it needs about {needed / 1e6:.1f} MB" if needed else "it needs more"
    kept = f"{path.name} was left as it was" if path.exists() else f"no {path.name} was written"
    return DiskFullError(code, f"the disk is full: {path} could not be written ({free / 1e6:.1f} MB free, {need}; "
                               f"{kept}): free some space and run again", needed)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files `atomic_write` left in `folder` when its process was killed (kill -9, a
    crash: no `finally` ran); those of running processes are kept. Returns the removed paths."""
    removed = []
    for entry in Path(folder).iterdir() if Path(folder).is_dir() else ():
        match = _TEMP_NAME.match(entry.name)
        if match and entry.is_file() and not _start_time(int(match.group(1))):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


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

    def check(self) -> None:
        """The ValueError of `__enter__` if a running process holds the folder now (a quick check before slow
        work; only `with` takes the lock)."""
        holder = self._holder()
        if holder is not None:
            raise ValueError(f"{self.path.parent} is in use by another {self.what} (process {holder}, still "
                             f"running): wait for it to finish, or give another folder")

    def _holder(self) -> str | None:
        """The PID of the running process that holds the lock, or None (no lock, or its holder is gone)."""
        try:
            holder = self.path.read_text().split()
        except OSError:
            return None
        alive = len(holder) == 2 and holder[0].isdigit() and _start_time(int(holder[0])) == holder[1]
        return holder[0] if alive else None

    def __enter__(self) -> "FolderLock":
        me = f"{os.getpid()} {_start_time(os.getpid())}"
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                self.check()
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


def check_writable_folder(folder: Path, what: str, created: list[Path] | None = None) -> None:
    """Create `folder` if needed and check that a file can be written in it; a ValueError says why not.
    The folders it creates are appended to `created` (so that a call that fails can remove them again)."""
    try:
        if created is not None:
            created += [f for f in (*reversed(folder.parents), folder) if not f.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"{what}: cannot write in {folder} ({e.strerror or e}); choose another folder") from e
