"""Finding a class's submissions, and reading them without following what a student planted.

The layout is nbgrader's: ``submitted/<student_id>/<assignment>/`` (a folder holding
the module) or ``submitted/<student_id>/<assignment>.zip`` (or ``<assignment>-<student_id>.zip``
as ``convgrade submit`` names it), extracted safely (``autograder.grading.archives``)
and checked against its manifest when it holds one (``autograder.handin``). Every
path of a hand-in is looked at without following links: a student folder, an
assignment folder, a zip or a module that is a link, a pipe or a device is refused,
never opened; files are read only when regular and bounded (``read_regular``). A
submission that cannot be used is still listed, with the reason, so the grader
records it as a zero rather than forgetting the student; so is a student id that
cannot name the student's results.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from autograder.course import CourseError, parse_time
from autograder.grading.archives import (  # MAX_FILES, SubmissionError and extract_zip are read from here too
    COPY_BLOCK, IGNORED_IN_ZIP, MAX_FILE_BYTES, MAX_FILES, SubmissionError, extract_zip,  # noqa: F401
)  # fmt: skip
from autograder.handin import MANIFEST, MAX_MANIFEST_BYTES, Checked, check_manifest, handed_in_files

NO_SUBMISSION = "nothing was handed in"  # the reason of a missing submission (status ``missing``)
ROSTER_COLUMNS = ("student_id", "id", "student", "username", "login")  # a roster's column of student ids, by its header
IGNORED_IN_HASH = "__pycache__"


@dataclass(frozen=True)
class Submission:
    """One student's work on one assignment: where its files are, or why it cannot be used."""

    student: str
    assignment: str
    folder: Path | None
    error: str | None
    note: str | None = None  # how a hand-in laid out otherwise was found ("found `Padding.py`: graded as `padding.py`")
    handed_in: datetime | None = None  # when, from nbgrader's timestamp.txt or the instructor's times file, else its manifest
    flags: tuple[str, ...] = ()  # for the instructor's look: what differs from the hand-in's manifest (autograder.handin)


MAX_ID_LENGTH = 100  # characters: a longer student id is no one's (and nears the file system's 255 bytes a name)


def name_problem(name: str, reserved: Collection[str] = ()) -> str | None:
    """Why ``name`` cannot be one folder of the grader's output (a student id, an assignment), or None when it can.

    ``reserved``: the names the output folder already uses for itself (``grades.csv``,
    ``class.html``...), compared without case, as a case-insensitive file system would.
    """
    if name in ("", ".", ".."):
        return "is not a folder name"
    if name.startswith("."):
        return "is hidden (it starts with a dot)"
    if any(c in name for c in "/\\"):
        return "holds a path separator"
    if not name.isprintable():
        return "holds control characters"
    if len(name) > MAX_ID_LENGTH:
        return f"is longer than {MAX_ID_LENGTH} characters"
    if name.lower() in {other.lower() for other in reserved}:
        return f"is the name of the grader's own output `{name}`"
    return None


def is_safe_name(name: str, reserved: Collection[str] = ()) -> bool:
    """Whether ``name`` can be one folder of the grader's output (``name_problem`` finds nothing)."""
    return name_problem(name, reserved) is None


def shown_id(name: str) -> str:
    """A student id as grades and messages can show it: control characters escaped, an absurd length cut (with a hash)."""
    shown = name if name.isprintable() else name.encode("unicode_escape").decode("ascii")
    if len(shown) > MAX_ID_LENGTH:
        shown = f"{shown[:40]}...{hashlib.sha256(name.encode(errors='surrogateescape')).hexdigest()[:8]}"
    return shown


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
    submitted: Path, assignments: list[str], work: Path, *,
    modules: Mapping[str, str] | None = None, roster: list[str] = (), reserved: Collection[str] = (),
) -> list[Submission]:
    """Every (student, assignment) of ``submitted/``, and of the ``roster``, zips extracted under ``work``, sorted.

    ``modules`` (assignment -> module name): find each hand-in's module where a
    student put it otherwise (``locate``), or say what was found instead. A
    student of the roster without a folder has every assignment missing. A
    student folder whose name cannot name the student's results (``name_problem``,
    ``reserved``: the output's own names) is a bad submission for each assignment
    it holds, under the id as it can be shown (``shown_id``), and never read.
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
            if problem := name_problem(student, reserved):
                if _submitted_path(student_dir, assignment) is not None:
                    found.append(_failed(shown_id(student), assignment, _refused_id(student, problem)))
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


def _refused_id(student: str, problem: str) -> str:
    """The reason of a hand-in whose student id cannot name its results."""
    return f"the student id {shown_id(student)!r} is not a safe folder name ({problem}): the grader cannot file results under it; rename the student's folder to their id."


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
    same_but_case = [p for p in entries if p.name.lower() == wanted.lower()]
    if len(same_but_case) == 1 and (kind := _not_a_file(same_but_case[0])):
        return _not_the_module(submission, same_but_case[0].name, kind)
    if len(same_but_case) == 1:
        copy = _copy_files(folder, work if folder != work else work.with_name(f"{work.name}.renamed"))
        (copy / same_but_case[0].name).rename(copy / wanted)
        return replace(submission, folder=copy, note=_noted(submission, f"found `{same_but_case[0].name}`, expected `{wanted}`: graded as `{wanted}`"))
    subfolders = [p for p in entries if p.is_dir() and not p.is_symlink()]
    if len(subfolders) == 1 and not [p for p in entries if p.suffix == ".py"]:
        if _regular(subfolders[0] / wanted):
            return replace(submission, folder=subfolders[0], note=_noted(submission, f"found `{wanted}` in the folder `{subfolders[0].name}/`: graded from there"))
        if kind := _not_a_file(subfolders[0] / wanted):
            return _not_the_module(submission, f"{shown_id(subfolders[0].name)}/{wanted}", kind)
    shown = ", ".join(f"`{shown_id(p.name)}{'/' if p.is_dir() else ''}`" for p in entries[:8]) or "nothing"
    only_notebooks = bool(entries) and all(p.suffix == ".ipynb" for p in entries)
    hint = f"; a notebook alone is not graded: hand in `{wanted}` beside it" if only_notebooks else ""
    return replace(submission, folder=None, error=f"no `{wanted}` in the hand-in: found {shown} (expected `{wanted}` at the top of {submission.assignment}/){hint}.")


IGNORED_NAMES = {IGNORED_IN_HASH, IGNORED_IN_ZIP}


def _noted(submission: Submission, note: str) -> str:
    """``note`` after the notes the submission already carries (its manifest's)."""
    return f"{submission.note}; {note}" if submission.note else note


def _not_the_module(submission: Submission, name: str, kind: str) -> Submission:
    """A bad submission: where its module should be, there is a link or a special file (never followed nor opened)."""
    return replace(submission, folder=None, error=f"`{name}` is {kind}, not the module itself: hand in the file.")


def _not_a_file(path: Path) -> str | None:
    """What ``path`` is when it exists but is no regular file ("a symbolic link", "a pipe"...), looked at without following it."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return None
    kinds = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a pipe", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
             stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}  # fmt: skip
    return kinds.get(stat.S_IFMT(mode))


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
    """The student's folder for ``assignment`` (preferred) or their zip of it (as nbgrader or ``convgrade submit`` names it), if any."""
    for candidate in (student_dir / assignment, student_dir / f"{assignment}.zip", student_dir / f"{assignment}-{student_dir.name}.zip"):
        if candidate.is_symlink() or candidate.exists():
            return candidate
    return None


def _submission(student_dir: Path, assignment: str, extracted: Path) -> Submission:
    """The submission of one student for one assignment, a zip extracted to ``extracted``."""
    student = student_dir.name
    path = _submitted_path(student_dir, assignment)
    if path is None:
        return _failed(student, assignment, NO_SUBMISSION)
    kind = _not_a_file(path)  # a link, a pipe or a device is never followed nor opened
    if kind == "a folder" and path.name == assignment:
        return _handed_in(student, assignment, path)
    if kind is not None:
        expected = "a folder of the student's own files" if path.name == assignment else "a regular file (a zip archive)"
        return _failed(student, assignment, f"{path.name} is {kind}, not {expected}.")
    try:
        extract_zip(path, extracted)
    except SubmissionError as exc:
        return _failed(student, assignment, str(exc))
    return _handed_in(student, assignment, extracted)


def _handed_in(student: str, assignment: str, folder: Path) -> Submission:
    """A usable hand-in, checked against its manifest when it holds one (``convgrade submit`` writes it).

    What differs is a note and a flag, never silent, and the hand-in is graded as
    it is: a student may have zipped it again. The hand-in time is nbgrader's
    ``timestamp.txt``, else the manifest's (the student's own word, and only while
    the files are those it describes); ``--times`` overrides both (``jobs.plan``).
    """
    checked = Checked()
    if (folder / MANIFEST).exists() or (folder / MANIFEST).is_symlink():
        files = {relative: _sha256(read_regular(path, MAX_FILE_BYTES)) for relative, path in handed_in_files(folder)[:MAX_FILES]}
        checked = check_manifest(read_regular(folder / MANIFEST, MAX_MANIFEST_BYTES), files, student)
    return Submission(
        student, assignment, folder, None, note=checked.note(), handed_in=_timestamp(folder) or checked.handed_in, flags=checked.problems
    )  # fmt: skip


def _sha256(data: bytes | None) -> str | None:
    """The sha256 of a file's bytes as a manifest writes it, or None for a file not read."""
    return hashlib.sha256(data).hexdigest() if data is not None else None


TIMESTAMP = "timestamp.txt"  # nbgrader's record of when a hand-in was collected


def _timestamp(folder: Path) -> datetime | None:
    """When the hand-in was made, from nbgrader's ``timestamp.txt`` in its folder (None without a readable one)."""
    text = read_regular(folder / TIMESTAMP, 200)
    if text is None:
        return None
    try:
        return parse_time(text.decode("utf-8", errors="replace"))
    except CourseError:
        return None


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` when it is a regular file itself of at most ``limit`` bytes, else None.

    Opened without following a link (``O_NOFOLLOW``) nor waiting on a pipe
    (``O_NONBLOCK``), then checked on the open file, so nothing swapped in
    between is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = file.read(limit + 1)
    return data if len(data) <= limit else None


def content_hash(folder: Path) -> str:
    """sha256 of the folder's files, by relative path and bytes (caches and links by name only)."""
    digest = hashlib.sha256()
    for path in _hashed_files(folder):
        relative = path.relative_to(folder).as_posix().encode()
        if path.is_symlink():
            content = b"link:" + os.readlink(path).encode(errors="surrogateescape")
        else:
            content = b"file:" + _file_digest(path)
        digest.update(len(relative).to_bytes(8, "big") + relative + len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def _file_digest(path: Path) -> bytes:
    """sha256 of a file's size and first ``MAX_FILE_BYTES`` bytes: a huge file in a hand-in costs no more than a big one."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        digest.update(os.fstat(file.fileno()).st_size.to_bytes(8, "big"))
        left = MAX_FILE_BYTES
        while left and (block := file.read(min(COPY_BLOCK, left))):
            digest.update(block)
            left -= len(block)
    return digest.digest()


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
