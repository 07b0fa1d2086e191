"""The one way convgrade replaces a file: all at once, or not at all.

A temporary file in the same folder is written, synced and renamed over the
old one, so a crash or an error while rendering leaves the previous file whole,
and a reader never sees half a file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (temp file, fsync, rename), making its folder.

    ``mode``: the new file's permissions (default: those ``path`` has now, 0o644
    for a new file). ``durable=False`` skips the syncs, for files that only
    live as long as one run.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_of(path) if mode is None else mode
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            if durable:
                os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str, **options: object) -> None:
    """Replace ``path`` with ``text`` (UTF-8) all at once."""
    atomic_write_bytes(path, text.encode("utf-8"), **options)  # type: ignore[arg-type]


def _mode_of(path: Path) -> int:
    """The permissions ``path`` has now, kept on rewrite; 0o644 for a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o644


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
