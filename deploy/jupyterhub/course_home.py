"""Give one student their own copy of the course: the folder FER_HOME points at.

    python course_home.py SOURCE FER_HOME

SOURCE is a copy of this repository (in the single-user image: /opt/fer-course). The copy holds what
the notebooks read (notebooks, models, data/images, data/sample, benchmarks/results, docs), so that
everything a student's kernel writes (figures/, their own outputs, a retrained model) lands in their
own folder, never in a checkout shared by the class. A file that is already there is never
overwritten: a student's work survives restarts and image updates. FER-2013 itself is not copied; set
FER2013_PATH to the class's read-only copy.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fer_utils.files import atomic_write

COURSE_PARTS = ("notebooks", "models", "data/images", "data/sample", "benchmarks/results", "docs")


def make_course_home(source: Path, home: Path, parts: tuple[str, ...] = COURSE_PARTS) -> list[Path]:
    """Copy `parts` of `source` into `home`, keeping every file already in `home`; the files copied."""
    copied = []
    for part in parts:
        for src in sorted((source / part).rglob("*")):
            dst = home / src.relative_to(source)
            if src.is_file() and not dst.exists() and "__pycache__" not in src.parts:
                dst.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(dst, lambda tmp, src=src: shutil.copy2(src, tmp))
                copied.append(dst)
    return copied


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python course_home.py SOURCE FER_HOME", file=sys.stderr)
        return 2
    source, home = Path(argv[0]), Path(argv[1]).expanduser()
    if not (source / "models").is_dir():
        print(f"{source} is not a copy of the course (no models/ in it): pass the repository's folder", file=sys.stderr)
        return 2
    copied = make_course_home(source, home)
    print(f"{home}: {len(copied)} course file(s) copied, existing files kept")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
