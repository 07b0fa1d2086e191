"""Finding a class's submissions, and unpacking a student's zip without trusting it.

The layout is nbgrader's: ``submitted/<student_id>/<assignment>/`` (a folder holding
the module) or ``submitted/<student_id>/<assignment>.zip``. A zip is checked member by
member before anything is written (no path outside the target, no links or device
files, caps on counts and sizes) and the bytes actually written are counted too, so
a header that lies about a size cannot pass. A submission that cannot be used is
still listed, with the reason, so the grader records it as a zero rather than
forgetting the student.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

from autograder.course import CourseError, parse_time

MAX_FILES = 200
MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed, for members big enough to matter
RATIO_FLOOR = 1024 * 1024  # smaller members may compress as well as they like
COPY_BLOCK = 64 * 1024  # bytes read at a time from a zip member
NO_SUBMISSION = "nothing was handed in"  # the reason of a missing submission (status ``missing``)
ROSTER_COLUMNS = ("student_id", "id", "student", "username", "login")  # a roster's column of student ids, by its header
IGNORED_IN_ZIP = "__MACOSX"  # the resource forks macOS's Finder adds to every zip
IGNORED_IN_HASH = "__pycache__"


class SubmissionError(Exception):
    """A submission that cannot be used; the message is one sentence for people."""


@dataclass(frozen=True)
class Submission:
    """One student's work on one assignment: where its files are, or why it cannot be used."""

    student: str
    assignment: str
    folder: Path | None
    error: str | None
    note: str | None = None  # how a hand-in laid out otherwise was found ("found `Padding.py`: graded as `padding.py`")
    handed_in: datetime | None = None  # when, from nbgrader's timestamp.txt or the instructor's times file


def is_safe_name(name: str) -> bool:
    """Whether ``name`` can be used as one path component (no separators, no '..', not hidden)."""
    return bool(name) and not name.startswith(".") and not any(c in name for c in "/\\\0")


def read_roster(path: Path) -> list[str]:
    """The student ids of a roster CSV: the column headed ``student_id`` (or id, student, username, login), else the first."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SubmissionError(f"the roster {path} cannot be read: {exc}.") from None
    if not rows:
        raise SubmissionError(f"the roster {path} lists no student.")
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(name) for name in ROSTER_COLUMNS if name in header), None)
    ids = [row[column or 0].strip() for row in (rows[1:] if column is not None else rows) if len(row) > (column or 0)]
    unsafe = [student for student in ids if not is_safe_name(student)]
    if unsafe:
        raise SubmissionError(f"the roster {path} holds {unsafe[0]!r}, which is not a student id that can name a folder.")
    return list(dict.fromkeys(ids))


def discover(
    submitted: Path, assignments: list[str], work: Path, *, modules: Mapping[str, str] | None = None, roster: list[str] = ()
) -> list[Submission]:
    """Every (student, assignment) of ``submitted/``, and of the ``roster``, zips extracted under ``work``, sorted.

    ``modules`` (assignment -> module name): find each hand-in's module where a
    student put it otherwise (``locate``), or say what was found instead. A
    student of the roster without a folder has every assignment missing.
    """
    if not submitted.is_dir():
        raise SubmissionError(f"{submitted} is not a folder of submissions.")
    found = [
        _failed(student, assignment, NO_SUBMISSION)
        for student in roster if not (submitted / student).is_dir()
        for assignment in dict.fromkeys(assignments)
    ]  # fmt: skip
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        student = student_dir.name
        for assignment in dict.fromkeys(assignments):
            if not is_safe_name(student):
                if _submitted_path(student_dir, assignment) is not None:
                    found.append(_failed(student, assignment, f"student id {student!r} is not a safe folder name."))
            elif not is_safe_name(assignment):
                found.append(_failed(student, assignment, f"assignment name {assignment!r} is not a safe folder name."))
            elif student_dir.is_symlink():
                found.append(_failed(student, assignment, f"the student folder {student} is a symbolic link, not the student's own files."))
            else:
                submission = _submission(student_dir, assignment, work / student / assignment)
                if modules is not None and submission.folder is not None:
                    submission = locate(submission, modules[assignment], work / student / assignment)
                found.append(submission)
    return sorted(found, key=lambda s: (s.student, s.assignment))


def locate(submission: Submission, module: str, work: Path) -> Submission:
    """The hand-in with its module where the grader reads it, ``<module>.py`` at the top of its folder.

    A module misnamed only by case (``Padding.py``) is graded under its name, in a
    copy under ``work``; one folder level too many (``submission/padding.py``) is
    looked through; either way the submission carries a note. Anything else is a
    bad submission whose reason says what was expected and what was found.
    """
    assert submission.folder is not None
    folder, wanted = submission.folder, f"{module}.py"
    if _regular(folder / wanted):
        return submission
    entries = sorted(p for p in folder.iterdir() if p.name not in IGNORED_NAMES and not p.name.startswith("."))
    same_but_case = [p for p in entries if p.name.lower() == wanted.lower() and _regular(p)]
    if len(same_but_case) == 1:
        copy = _copy_files(folder, work if folder != work else work.with_name(f"{work.name}.renamed"))
        (copy / same_but_case[0].name).rename(copy / wanted)
        return replace(submission, folder=copy, note=f"found `{same_but_case[0].name}`, expected `{wanted}`: graded as `{wanted}`")
    subfolders = [p for p in entries if p.is_dir() and not p.is_symlink()]
    if len(subfolders) == 1 and not [p for p in entries if p.suffix == ".py"] and _regular(subfolders[0] / wanted):
        return replace(submission, folder=subfolders[0], note=f"found `{wanted}` in the folder `{subfolders[0].name}/`: graded from there")
    shown = ", ".join(f"`{p.name}{'/' if p.is_dir() else ''}`" for p in entries[:8]) or "nothing"
    only_notebooks = bool(entries) and all(p.suffix == ".ipynb" for p in entries)
    hint = f"; a notebook alone is not graded: hand in `{wanted}` beside it" if only_notebooks else ""
    return replace(submission, folder=None, error=f"no `{wanted}` in the hand-in: found {shown} (expected `{wanted}` at the top of {submission.assignment}/){hint}.")


IGNORED_NAMES = {IGNORED_IN_HASH, IGNORED_IN_ZIP}


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file itself (not a link, a pipe or a device)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _copy_files(folder: Path, target: Path) -> Path:
    """The regular files at the top of ``folder`` copied into a fresh ``target`` (links and special files left out)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in folder.iterdir():
        if _regular(path) and path.stat().st_size <= MAX_FILE_BYTES:
            shutil.copyfile(path, target / path.name, follow_symlinks=False)
    return target


def _failed(student: str, assignment: str, reason: str) -> Submission:
    """A submission that cannot be graded, with the reason."""
    return Submission(student, assignment, None, reason)


def _submitted_path(student_dir: Path, assignment: str) -> Path | None:
    """The student's folder for ``assignment`` (preferred) or their zip of it, if either exists."""
    for candidate in (student_dir / assignment, student_dir / f"{assignment}.zip"):
        if candidate.is_symlink() or candidate.exists():
            return candidate
    return None


def _submission(student_dir: Path, assignment: str, extracted: Path) -> Submission:
    """The submission of one student for one assignment, a zip extracted to ``extracted``."""
    student = student_dir.name
    path = _submitted_path(student_dir, assignment)
    if path is None:
        return _failed(student, assignment, NO_SUBMISSION)
    if path.is_symlink():
        return _failed(student, assignment, f"{path.name} is a symbolic link, not the student's own files.")
    if path.is_dir():
        return Submission(student, assignment, path, None, handed_in=_timestamp(path))
    if not _regular(path):
        return _failed(student, assignment, f"{path.name} is not a regular file (a pipe or a device), so it is not a zip.")
    try:
        extract_zip(path, extracted)
    except SubmissionError as exc:
        return _failed(student, assignment, str(exc))
    return Submission(student, assignment, extracted, None, handed_in=_timestamp(extracted))


TIMESTAMP = "timestamp.txt"  # nbgrader's record of when a hand-in was collected


def _timestamp(folder: Path) -> datetime | None:
    """When the hand-in was made, from nbgrader's ``timestamp.txt`` in its folder (None without a readable one)."""
    path = folder / TIMESTAMP
    if not _regular(path) or path.stat().st_size > 200:
        return None
    try:
        return parse_time(path.read_text(encoding="utf-8", errors="replace"))
    except CourseError:
        return None


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


def content_hash(folder: Path) -> str:
    """sha256 of the folder's files, by relative path and bytes (caches and links by name only)."""
    digest = hashlib.sha256()
    for path in _hashed_files(folder):
        relative = path.relative_to(folder).as_posix().encode()
        if path.is_symlink():
            content = b"link:" + os.readlink(path).encode(errors="surrogateescape")
        else:
            with path.open("rb") as file:
                content = b"file:" + hashlib.file_digest(file, "sha256").digest()
        digest.update(len(relative).to_bytes(8, "big") + relative + len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def _hashed_files(folder: Path) -> list[Path]:
    """Regular files and links under ``folder``, sorted, without ``__pycache__`` or ``.pyc``."""
    found = []
    for root, dirs, files in os.walk(folder):  # does not follow links to folders
        dirs[:] = [d for d in dirs if d != IGNORED_IN_HASH]
        for entry in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            path = Path(root) / entry
            if path.suffix != ".pyc" and (path.is_symlink() or path.is_file()):
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())
