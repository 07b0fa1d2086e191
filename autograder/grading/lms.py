"""Grading what an LMS hands the instructor: Canvas's and Moodle's "download all submissions", as nbgrader's folders.

``convgrade grade submissions.zip -a 03_padding`` (or the unpacked folder) reads the names each
LMS gives the files it zips and lays the hand-ins out as ``submitted/<student>/<assignment>/``
under ``OUT/.extracted/.lms/``:

- **Canvas** (its ``ContentZipper``): ``{name}[_late]_{user_id}_{attachment_id}_{file}``, the
  sortable name squashed to lower-case letters and digits, ``late`` (``LATE`` in older Canvas)
  when Canvas counts it late, the user's id, the attachment's id (they grow: the larger is the
  newer) and the uploaded name, to which Canvas appends ``-N`` for a name the student had
  uploaded before (``padding-1.py``). Anonymous grading puts ``anon_{id}`` for name and user id.
- **Moodle** (``mod_assign``'s downloader): a folder per student and plugin,
  ``{Full Name}_{participant id}_assignsubmission_file_/`` (no last ``_`` since Moodle 4.1), or
  the files flattened to ``{Full Name}_{participant id}_assignsubmission_file_{file}``; blind
  marking names everyone ``Participant``. The participant id is per assignment: give a roster.

A student is the LMS's id, or the course's id a roster maps it to (``read_people``: by
``lms_id``, else by ``name``). Their files are graded together; a name handed in twice (a
resubmission) keeps the newest, as the note says; an uploaded zip with no module beside it is
the hand-in, extracted as any (``autograder.grading.archives``). Canvas's ``late`` makes the row
late (``autograder.grading.late``), but no name says how late: ``--times`` does, else the
least the flag allows is charged, with a warning. Times inside the zip are never used: Canvas
and Moodle both stamp entries with when they built the zip, not when the student handed in.
"""

from __future__ import annotations

import csv
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from autograder.grading.archives import (
    IGNORED_IN_ZIP, MAX_FILE_BYTES, MAX_TOTAL_BYTES, SubmissionError, checked_member, copy_member, extract_zip,
)  # fmt: skip
from autograder.grading.submissions import is_safe_name, read_regular

if TYPE_CHECKING:
    from autograder.grading.jobs import Job

LMS_FOLDER = ".lms"  # OUT/.extracted/.lms/submitted/<student>/<assignment>/: a download laid out (hidden: no student id)
MAX_MEMBERS = 100_000  # files in one class's download

CANVAS = re.compile(r"^(?P<name>\w*?)(?:_(?P<late>late))?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$", re.IGNORECASE)
CANVAS_ANONYMOUS = re.compile(r"^(?P<user>anon_[a-z0-9]+)(?:_(?P<late>late))?_(?P<attachment>\d+)_(?P<file>.+)$", re.IGNORECASE)
CANVAS_COPY = re.compile(r"^(?P<stem>.+?)-(?P<copy>\d+)(?P<suffix>\.[^.]*)?$")  # padding-1.py: Canvas's name for a second padding.py
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$")


@dataclass(frozen=True)
class Person:
    """One student of a roster, with the ids the LMSs know them by (``read_people``; every field but the first may be "")."""

    student_id: str  # the course's id: the folder name under submitted/, the student_id of grades.csv
    name: str = ""  # as the LMS shows it: Canvas's sortable "Last, First", Moodle's "First Last"
    lms_id: str = ""  # the LMS's own id: Canvas's user ID (in its download's names and its gradebook), Moodle's participant id
    sis_user_id: str = ""  # Canvas's SIS User ID
    sis_login_id: str = ""  # Canvas's SIS Login ID
    section: str = ""  # Canvas's Section
    email: str = ""  # Moodle's email address
    idnumber: str = ""  # Moodle's ID number
    username: str = ""  # Moodle's username

    def get(self, name: str) -> str:
        """The value of one field, by name."""
        return str(getattr(self, name))

PEOPLE_COLUMNS = tuple(Person.__dataclass_fields__)


def read_people(path: Path) -> list[Person]:
    """A roster CSV with a header: ``student_id`` (the course's id) and any of ``Person``'s other fields (the README lists them)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SubmissionError(f"the roster {path} cannot be read: {exc}.") from None
    people = [Person(**{key: (row.get(key) or "").strip() for key in PEOPLE_COLUMNS}) for row in _lower_keys(rows)]
    if not people or not all(person.student_id for person in people):
        raise SubmissionError(f"the roster {path} needs a student_id column with the course's id of every student.")
    unsafe = [person.student_id for person in people if not is_safe_name(person.student_id)]
    if unsafe:
        raise SubmissionError(f"the roster {path} holds {unsafe[0]!r}, which is not a student id that can name a folder.")
    return people


def _lower_keys(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows of a CSV with their column names trimmed and in lower case."""
    return [{(key or "").strip().lower(): value for key, value in row.items()} for row in rows]


def squashed(name: str) -> str:
    """A name as Canvas squashes it in file names, to compare names: lower case, letters and digits only."""
    return re.sub(r"[\W_]", "", name.lower())


@dataclass(frozen=True)
class Found:
    """One file of a download, as its name tells: whose, where in their hand-in, and how new."""

    lms_id: str  # Canvas's user id (or anon_...), Moodle's participant id
    name: str  # the student's name as the download spells it
    path: PurePosixPath  # the file's path in the student's hand-in, as they named it
    source: str  # where it is in the download (a zip member's name, a path under the folder)
    late: bool = False
    order: tuple[int, int] = (0, 0)  # (Canvas attachment id, -N copy): the larger is the newer


def parse_canvas(name: str) -> Found | None:
    """A Canvas download's file name, read; None when it is not one (or is a text entry or a link, which hold no file)."""
    match = CANVAS_ANONYMOUS.match(name) or CANVAS.match(name)
    if match is None:
        return None
    groups = match.groupdict()
    file, copy = groups["file"], 0
    if numbered := CANVAS_COPY.match(file):
        file, copy = numbered["stem"] + (numbered["suffix"] or ""), int(numbered["copy"])
    return Found(groups["user"].lower(), groups.get("name") or groups["user"], PurePosixPath(file), name,
                 late=bool(groups["late"]), order=(int(groups["attachment"]), copy))  # fmt: skip


def parse_moodle(path: PurePosixPath) -> Found | None:
    """A Moodle download's path, read (a file in a student's folder, or a flattened name); None when not one."""
    if len(path.parts) > 1 and (match := MOODLE_FOLDER.match(path.parts[0])):
        inside = PurePosixPath(*path.parts[1:])
    elif len(path.parts) == 1 and (match := MOODLE_FILE.match(path.name)):
        inside = PurePosixPath(match["file"])
    else:
        return None
    if match["plugin"] != "file":
        return None  # online text, comments...: nothing to grade
    return Found(match["user"], match["name"], inside, path.as_posix())


def detect(paths: Sequence[PurePosixPath]) -> str | None:
    """Which LMS made a download with these paths: "canvas", "moodle", or None when most are neither's."""
    files = [path for path in paths if path.parts[:1] != (IGNORED_IN_ZIP,)]
    canvas = sum(1 for path in files if len(path.parts) == 1 and parse_canvas(path.name))
    moodle = sum(1 for path in files if MOODLE_FILE.match(path.name) or MOODLE_FOLDER.match(path.parts[0]))
    best, count = max((("canvas", canvas), ("moodle", moodle)), key=lambda pair: pair[1])
    return best if files and 2 * count > len(files) else None


class Download:
    """The files of an LMS's download, from its zip (never extracted whole) or from the folder it was unpacked to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.members: dict[str, zipfile.ZipInfo | Path] = {}
        if path.is_dir() and not path.is_symlink():
            self._read_folder()
        elif _regular(path):
            self._read_zip()
        else:
            raise SubmissionError(f"{path} is neither a folder nor a zip file of submissions.")
        self.prefix = _common_folder(list(self.members))

    def _read_folder(self) -> None:
        for found in sorted(self.path.rglob("*")):
            if found.is_symlink() or found.is_file():  # a link is listed, to be refused when read
                self.members[found.relative_to(self.path).as_posix()] = found

    def _read_zip(self) -> None:
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SubmissionError(f"{self.path.name} is not a zip archive or is damaged ({exc}).") from None
        infos = [info for info in self.zip.infolist() if not info.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise SubmissionError(f"{self.path.name} holds {len(infos)} files, more than the {MAX_MEMBERS} a class's download may.")
        self.members = {info.filename: info for info in infos}

    def paths(self) -> list[PurePosixPath]:
        """Every file's path, below the one folder that wraps them all (if one does)."""
        return [PurePosixPath(name).relative_to(self.prefix) for name in self.members]

    def write(self, found: Found, destination: Path) -> int:
        """Write one file of the download to ``destination``; its size (``SubmissionError`` when it may not be read)."""
        member = self.members[(self.prefix / found.source).as_posix()]
        destination.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(member, Path):
            data = read_regular(member, MAX_FILE_BYTES)
            if data is None:
                raise SubmissionError(f"{found.source} is not a regular file of at most {MAX_FILE_BYTES // 2**20} MiB.")
            destination.write_bytes(data)
            return len(data)
        assert self.zip is not None
        checked_member(member, self.path.name)
        try:
            return copy_member(self.zip, member, destination, self.path.name)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
            raise SubmissionError(f"{found.source} cannot be read from {self.path.name} ({exc}).") from None

    def close(self) -> None:
        """Close the zip, if one is open."""
        if self.zip is not None:
            self.zip.close()


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file itself (not a link, a pipe or a device)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _common_folder(names: list[str]) -> PurePosixPath:
    """The one folder every file is in, when the download was zipped or unpacked inside one that is no student's."""
    tops = {PurePosixPath(name).parts[0] for name in names if len(PurePosixPath(name).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(name).parts) > 1 for name in names):
        top = tops.pop()
        if not MOODLE_FOLDER.match(top):
            return PurePosixPath(top)
    return PurePosixPath()


def is_download(path: Path) -> bool:
    """Whether ``path`` is an LMS's download (a zip file, or a folder of Canvas's or Moodle's names) rather than nbgrader's layout."""
    if _regular(path):
        return True
    if not path.is_dir():
        return False
    entries = list(path.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return is_download(entries[0])  # unpacked inside a folder of its own
    names = [PurePosixPath(p.name) for p in entries]
    return detect([name / "x" if (path / name).is_dir() and MOODLE_FOLDER.match(name.name) else name for name in names]) is not None


@dataclass
class LmsDownload:
    """A download laid out as ``submitted/<student>/<assignment>/``, and what grading it must know besides."""

    kind: str  # "canvas" or "moodle"
    assignment: str
    submitted: Path
    late: set[tuple[str, str]] = field(default_factory=set)  # (student, assignment) the LMS marked late
    notes: dict[str, str] = field(default_factory=dict)  # by student: how their hand-in was put together
    errors: dict[str, str] = field(default_factory=dict)  # by student: why their hand-in cannot be graded
    warnings: list[str] = field(default_factory=list)  # for the instructor, one line each

    def annotate(self, jobs: list[Job]) -> list[Job]:
        """The jobs with each student's note or error from the download, in their submissions and their digests."""
        annotated = []
        for job in jobs:
            student = job.submission.student
            note, error = self.notes.get(student), self.errors.get(student)
            if note or error:
                submission = job.submission
                if error:
                    submission = replace(submission, folder=None, error=error)
                elif note:
                    submission = replace(submission, note=f"{note}; {submission.note}" if submission.note else note)
                job = replace(job, submission=submission, digest=f"{job.digest}:lms:{note or ''}:{error or ''}")
            annotated.append(job)
        return annotated


def lay_out(
    path: Path, modules: Mapping[str, str], work: Path, *, assignment: str | None = None, people: Sequence[Person] = (),
) -> LmsDownload:
    """Read the download at ``path`` and lay it out under ``work/.lms`` for one assignment (``modules``: assignment -> module).

    ``assignment``: the one to grade; None to infer it from the modules the hand-ins hold.
    ``people``: a roster mapping the LMS's ids (``lms_id``) or names to the course's ids.
    """
    download = Download(path)
    try:
        paths = download.paths()
        kind = detect(paths)
        if kind is None:
            raise SubmissionError(f"{path} is not a Canvas or Moodle download: its files are not named as either names them.")
        parse = (lambda p: parse_canvas(p.name) if len(p.parts) == 1 else None) if kind == "canvas" else parse_moodle
        found, ignored = [], []
        for relative in paths:
            if relative.parts[:1] == (IGNORED_IN_ZIP,):
                continue
            if (item := parse(relative)) is None:
                ignored.append(relative.as_posix())
            else:
                found.append(item)
        chosen = assignment or _inferred(found, modules)
        result = LmsDownload(kind, chosen, work / LMS_FOLDER / "submitted")
        if ignored:
            shown = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
            result.warnings.append(f"{len(ignored)} file(s) of the download are no hand-in file ({shown}): left out")
        shutil.rmtree(work / LMS_FOLDER, ignore_errors=True)
        for student, files in _by_student(found, kind, people, result.warnings).items():
            _lay_out_one(download, student, files, modules[chosen], result)
    finally:
        download.close()
    if kind == "moodle" and not people:
        result.warnings.append("Moodle's participant ids differ from one assignment to the next: give --roster (names or ids to course ids) to join them")
    return result


def lay_out_download(path: Path, assignments: Sequence[str], source: Path, out: Path, roster: str | None) -> LmsDownload:
    """``convgrade grade DOWNLOAD``: the download laid out in ``OUT/.extracted`` for the one assignment of ``assignments`` (or inferred).

    ``roster``: a CSV mapping the LMS's ids or names to the course's ids (nbgrader's gradebook maps none).
    """
    from autograder.assignment import Assignment, AssignmentError, assignments_in
    from autograder.grading.jobs import EXTRACTED

    if len(assignments) > 1:
        raise SubmissionError(f"{path} is an LMS download, which holds one assignment: name one with -a.")
    people = read_people(Path(roster)) if roster and not (roster.endswith(".db") or "://" in roster) else []
    try:
        modules = {folder.name: Assignment.load(folder.folder).module for folder in assignments_in(source)}
    except AssignmentError as exc:
        raise SubmissionError(str(exc)) from None
    return lay_out(path, modules, out / EXTRACTED, assignment=assignments[0] if assignments else None, people=people)


def _inferred(found: Sequence[Found], modules: Mapping[str, str]) -> str:
    """The one assignment whose module (or zip) the hand-ins hold, else a ``SubmissionError`` asking for ``-a``."""
    by_file = {f"{module}.py": name for name, module in modules.items()} | {f"{name}.zip": name for name in modules}
    seen = sorted({by_file[item.path.name.lower()] for item in found if item.path.name.lower() in by_file})
    if len(seen) == 1:
        return seen[0]
    what = f"modules of {', '.join(seen)}" if seen else "no module of any assignment"
    raise SubmissionError(f"an LMS download holds one assignment, and this one holds {what}: name it with -a ASSIGNMENT.")


def _by_student(found: Sequence[Found], kind: str, people: Sequence[Person], warnings: list[str]) -> dict[str, list[Found]]:
    """The download's files by the course's student id: the roster's, by LMS id then by name, else the LMS's id."""
    by_id = {person.lms_id.lower(): person.student_id for person in people if person.lms_id}
    names: dict[str, list[str]] = {}
    for person in people:
        if person.name:
            names.setdefault(squashed(person.name), []).append(person.student_id)
    grouped: dict[str, list[Found]] = {}
    unknown = set()
    for item in found:
        student = by_id.get(item.lms_id.lower())
        if student is None and len(same := names.get(squashed(item.name), [])) == 1 and item.name.lower() != "participant":
            student = same[0]
        if student is None:
            student = item.lms_id
            if people:
                unknown.add(f"{item.name} ({item.lms_id})")
        grouped.setdefault(student, []).append(item)
    if unknown:
        warnings.append(f"not on the roster, graded under the {kind.capitalize()} id: {', '.join(sorted(unknown))}")
    return grouped


def _lay_out_one(download: Download, student: str, files: list[Found], module: str, result: LmsDownload) -> None:
    """One student's files as ``submitted/<student>/<assignment>/``: the newest of each name, or their zip's contents."""
    folder = result.submitted / student / result.assignment
    newest: dict[PurePosixPath, Found] = {}
    for item in sorted(files, key=lambda f: f.order):
        newest[item.path] = item
    notes = [f"handed in {sum(1 for f in files if f.path == p)} times as `{p}`: graded the newest"
             for p in sorted(newest) if sum(1 for f in files if f.path == p) > 1]  # fmt: skip
    kept = sorted(newest.values(), key=lambda f: f.path)
    archives = [item for item in kept if item.path.suffix.lower() == ".zip"]
    if archives and not any(item.path.name.lower() == f"{module}.py" for item in kept):
        kept = [max(archives, key=lambda f: f.order)]
    folder.mkdir(parents=True)
    total = 0
    for item in kept:
        target = folder.joinpath(*item.path.parts)
        try:
            total += download.write(item, target)
            if total > MAX_TOTAL_BYTES:
                raise SubmissionError(f"the hand-in holds more than the {MAX_TOTAL_BYTES // 2**20} MiB a submission may.")
            if len(kept) == 1 and target.suffix.lower() == ".zip":
                _unzip_in_place(target, folder)
                notes.append(f"graded the contents of `{item.path}`")
        except SubmissionError as exc:
            if item.path.name.lower() == f"{module}.py" or len(kept) == 1:
                result.errors[student] = f"`{item.path}` of the {result.kind.capitalize()} download cannot be used: {exc}"
            else:
                notes.append(f"left out `{item.path}`: {exc}")
    if any(item.late for item in kept):
        result.late.add((student, result.assignment))
        notes.append(f"{result.kind.capitalize()} marked this hand-in late")
    if notes:
        result.notes[student] = f"from the {result.kind.capitalize()} download: " + "; ".join(notes)


def _unzip_in_place(archive: Path, folder: Path) -> None:
    """Replace ``folder`` (which holds only ``archive``) by the archive's contents, checked as any submission's zip."""
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        moved = Path(scratch) / archive.name
        archive.rename(moved)
        extract_zip(moved, folder)
