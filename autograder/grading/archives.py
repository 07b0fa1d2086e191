"""Unpacking a student's zip without trusting it.

A zip is checked member by member before anything is written (no path outside
the target, no links or device files, caps on counts and sizes) and the bytes
actually written are counted too, so a header that lies about a size cannot pass.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

MAX_FILES = 200
MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed, for members big enough to matter
RATIO_FLOOR = 1024 * 1024  # smaller members may compress as well as they like
COPY_BLOCK = 64 * 1024  # bytes read at a time from a zip member
IGNORED_IN_ZIP = "__MACOSX"  # the resource forks macOS's Finder adds to every zip


class SubmissionError(Exception):
    """A submission that cannot be used; the message is one sentence for people."""


def extract_zip(archive: Path, target: Path) -> None:
    """Check ``archive`` and extract it to ``target``, replacing what was there.

    A single top-level folder in the zip is unwrapped: its contents become ``target``.
    Nothing is left at ``target`` or beside it when the archive is refused.
    """
    if archive.stat().st_size > MAX_TOTAL_BYTES + MAX_FILES * 1024:
        raise SubmissionError(f"{archive.name} is larger than the {_mib(MAX_TOTAL_BYTES)} a submission may hold.")
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _checked_members(zf, archive.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
            try:
                _extract_members(zf, members, staging, archive.name)
                _move_into_place(_unwrapped(staging), target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except zipfile.BadZipFile as exc:
        raise SubmissionError(f"{archive.name} is not a zip archive or is damaged ({exc}).") from None
    except (NotImplementedError, RuntimeError, EOFError, zlib.error) as exc:
        raise SubmissionError(f"{archive.name} cannot be read (encrypted or an unsupported compression: {exc}).") from None


def checked_member(info: zipfile.ZipInfo, name: str) -> PurePosixPath:
    """One member's safe relative path, after refusing what its header declares unsafe (``SubmissionError``).

    For a zip read member by member (an LMS's download of a whole class,
    ``autograder.grading.lms``): a path outside, a link, a special file, a member
    over the one-file cap or compressed like a bomb.
    """
    path = _member_path(info, name)
    _check_kind(info, name)
    _check_declared_size(info, name)
    return path


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, name: str) -> int:
    """Stream one member checked by ``checked_member`` to ``destination`` (a new file), the bytes written counted against the caps."""
    return _copy_member(zf, info, destination, name, budget=MAX_TOTAL_BYTES)


def _mib(size: int) -> str:
    """``10485760`` -> ``10 MiB``."""
    return f"{size / 1024 / 1024:g} MiB"


def _checked_members(zf: zipfile.ZipFile, name: str) -> list[zipfile.ZipInfo]:
    """The members to extract, after refusing anything unsafe that their headers declare."""
    members = [info for info in zf.infolist() if PurePosixPath(info.filename).parts[:1] != (IGNORED_IN_ZIP,)]
    files = [info for info in members if not info.is_dir()]
    if not files:
        raise SubmissionError(f"{name} holds no files.")
    if len(files) > MAX_FILES:
        raise SubmissionError(f"{name} holds {len(files)} files, more than the {MAX_FILES} allowed.")
    seen: set[PurePosixPath] = set()
    for info in members:
        path = _member_path(info, name)
        if path in seen:
            raise SubmissionError(f"{name} holds {info.filename!r} twice.")
        seen.add(path)
        _check_kind(info, name)
        _check_declared_size(info, name)
    file_paths = {_member_path(info, name) for info in files}
    for path in seen:
        if clash := file_paths.intersection(path.parents):
            raise SubmissionError(f"{name} holds {str(clash.pop())!r} both as a file and as a folder.")
    total = sum(info.file_size for info in files)
    if total > MAX_TOTAL_BYTES:
        raise SubmissionError(f"{name} unpacks to {_mib(total)}, more than the {_mib(MAX_TOTAL_BYTES)} allowed.")
    return members


def _member_path(info: zipfile.ZipInfo, name: str) -> PurePosixPath:
    """The member's relative path, refusing absolute paths and '..' (zip-slip)."""
    raw = info.filename
    path = PurePosixPath(raw)
    unsafe = not path.parts or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]
    if unsafe or "\0" in raw or "\\" in raw:
        raise SubmissionError(f"{name} holds {raw!r}, a path outside its own folder.")
    return path


def _check_kind(info: zipfile.ZipInfo, name: str) -> None:
    """Refuse symbolic links, devices, pipes and sockets (Unix mode bits of the member)."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise SubmissionError(f"{name} holds {info.filename!r}, a symbolic link, which a submission may not contain.")
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise SubmissionError(f"{name} holds {info.filename!r}, a special file, which a submission may not contain.")


def _check_declared_size(info: zipfile.ZipInfo, name: str) -> None:
    """Refuse a member whose header declares too many bytes or a suspicious compression ratio."""
    if info.file_size > MAX_FILE_BYTES:
        raise SubmissionError(f"{name} holds {info.filename!r} of {_mib(info.file_size)}, more than the {_mib(MAX_FILE_BYTES)} allowed for one file.")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise SubmissionError(f"{name} holds {info.filename!r}, compressed more than {MAX_RATIO} times (a zip bomb).")


def _extract_members(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], staging: Path, name: str) -> None:
    """Write the members under ``staging``, counting the bytes actually written against the caps."""
    total = 0
    for info in members:
        destination = staging.joinpath(*_member_path(info, name).parts)
        if not destination.resolve().is_relative_to(staging.resolve()):
            raise SubmissionError(f"{name} holds {info.filename!r}, a path outside its own folder.")
        if info.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        total += _copy_member(zf, info, destination, name, budget=MAX_TOTAL_BYTES - total)


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, name: str, *, budget: int) -> int:
    """Stream one member to ``destination`` (a new file) and return how many bytes it held."""
    limit = min(info.file_size, MAX_FILE_BYTES, budget)
    written = 0
    with zf.open(info) as source, destination.open("xb") as sink:
        while chunk := source.read(COPY_BLOCK):
            written += len(chunk)
            if written > limit:
                raise SubmissionError(f"{name} holds {info.filename!r}, which unpacks to more bytes than its header declares or the caps allow.")
            sink.write(chunk)
    return written


def _unwrapped(staging: Path) -> Path:
    """``staging`` itself, or the single folder it holds (``03_padding/padding.py`` -> its contents)."""
    entries = list(staging.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return staging


def _move_into_place(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; a previous ``target`` is renamed away first, then removed."""
    source.chmod(0o755)  # as a folder made by mkdir, whichever folder of the staging area this is
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
