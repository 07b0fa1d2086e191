"""Canvas and Moodle in both directions: their downloads graded as the folder layout is, and the grades exported as each imports them."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from autograder.grading.export import canvas_csv, moodle_csv, read_grades, wide_csv
from autograder.grading.lms import Person, detect, parse_canvas, parse_moodle
from autograder.grading.results import write_grades_csv

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(Path(sys.executable).parent / "convgrade")
CLASS = ROOT / "examples" / "submitted"
# the bundled class as the LMSs know it: course id -> (Canvas's sortable name, Canvas user id, Moodle's full name, email)
# (five of them, one of each kind of hand-in, to grade three times in well under a minute)
PEOPLE = {
    "ada": ("Lovelace, Ada", "1001", "Ada Lovelace"), "ben": ("Bitdiddle, Ben", "1002", "Ben Bitdiddle"),
    "hal": ("Nine, Hal", "1006", "Hal Nine"), "ivy": ("League, Ivy", "1007", "Ivy League"), "zoe": ("Zip, Zoe", "1009", "Zoe Zip"),
}  # fmt: skip
IN_MOODLE = ("ada", "ben", "zoe")  # a folder of files, a partly right one, a zip
ROSTER_ONLY = {"cleo": ("Clever, Cleo", "1003", "Cleo Clever"), "kim": ("Kim, Kim", "1010", "Kim Kim")}  # in no download


def write_roster(path: Path, moodle: bool = False) -> Path:
    """The roster: the course's ids with the LMS's names and ids (Moodle's by name: its participant ids are per assignment)."""
    lines = ["student_id,name,lms_id,sis_user_id,email"]
    for student, (sortable, user_id, full) in (PEOPLE | ROSTER_ONLY).items():
        lines.append(f'{student},"{full if moodle else sortable}",{"" if moodle else user_id},SIS-{student},{student}@uni.example')
    path.write_text("\n".join(lines) + "\n")
    return path


def hand_ins(student: str) -> list[Path]:
    """The student's files for 03_padding in the bundled class: the module (or zip), never nbgrader's timestamp."""
    folder = CLASS / student / "03_padding"
    return [p for p in sorted(folder.iterdir()) if p.name != "timestamp.txt"] if folder.is_dir() else [CLASS / student / "03_padding.zip"]


def canvas_download(path: Path) -> Path:
    """The class's 03_padding as Canvas's "Download Submissions" zips it; ivy's is LATE, ben resubmitted over a perfect first try."""
    with zipfile.ZipFile(path, "w") as zf:
        attachment = 5000
        for student, (sortable, user_id, _) in PEOPLE.items():
            prefix = re.sub(r"[\W_]", "", sortable.lower()) + ("_late" if student == "ivy" else "") + f"_{user_id}"
            if student == "ben":  # the first padding.py (the reference), then his own, which Canvas renames padding-1.py
                zf.write(ROOT / "solutions" / "03_padding" / "padding.py", f"{prefix}_{attachment}_padding.py")
                zf.writestr(f"{prefix}_{attachment + 1}_padding-1.py", (CLASS / "ben" / "03_padding" / "padding.py").read_bytes())
                attachment += 2
                continue
            for file in hand_ins(student):
                attachment += 1
                zf.write(file, f"{prefix}_{attachment}_{file.name}")
        zf.writestr("bitdiddleben_1002_text.html", "<p>a text entry: no file to grade</p>")
    return path


def moodle_download(path: Path) -> Path:
    """Part of the class's 03_padding as Moodle's "Download all submissions" unpacks it: a folder per student and plugin."""
    for number, student in enumerate(IN_MOODLE, start=31):
        full = PEOPLE[student][2]
        folder = path / f"{full}_{number}_assignsubmission_file_"
        folder.mkdir(parents=True)
        for file in hand_ins(student):
            (folder / file.name).write_bytes(file.read_bytes())
        (path / f"{full}_{number}_assignsubmission_onlinetext_").mkdir()
        (path / f"{full}_{number}_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>notes</p>")
    return path


def convgrade(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([CONVGRADE, *args], env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def grade(submitted: Path, out: Path, secret: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict[str, dict[str, str]]]:
    done = convgrade("grade", str(submitted), "--out", str(out), "-j", "2", "--root", str(ROOT), "--no-class-page", "--secret", str(secret), *extra)
    with open(out / "grades.csv", newline="") as handle:
        return done, {row["student_id"]: row for row in csv.DictReader(handle)}


def test_file_names_are_read_as_each_lms_writes_them():
    found = parse_canvas("bitdiddleben_late_1002_5001_padding-1.py")
    assert (found.lms_id, found.name, found.path, found.late, found.order) == ("1002", "bitdiddleben", PurePosixPath("padding.py"), True, (5001, 1))
    assert parse_canvas("bitdiddleben_LATE_1002_5001_padding.py").late, "older Canvas writes LATE"
    assert parse_canvas("anon_dpt1b_5001_padding.py").lms_id == "anon_dpt1b"
    assert parse_canvas("bitdiddleben_1002_text.html") is None and parse_canvas("padding.py") is None
    folder = parse_moodle(PurePosixPath("Ben Bitdiddle_32_assignsubmission_file_/sub/padding.py"))
    assert (folder.lms_id, folder.name, folder.path) == ("32", "Ben Bitdiddle", PurePosixPath("sub/padding.py"))
    assert parse_moodle(PurePosixPath("Ben Bitdiddle_32_assignsubmission_file/padding.py")).path == PurePosixPath("padding.py"), "Moodle 4.1"
    assert parse_moodle(PurePosixPath("Participant_32_assignsubmission_file_padding.py")).path == PurePosixPath("padding.py"), "flattened, blind"
    assert parse_moodle(PurePosixPath("Ben Bitdiddle_32_assignsubmission_onlinetext_/onlinetext.html")) is None
    assert detect([PurePosixPath("bitdiddleben_1002_5001_padding.py")]) == "canvas"
    assert detect([PurePosixPath("Ben Bitdiddle_32_assignsubmission_file_/padding.py")]) == "moodle"
    assert detect([PurePosixPath("ben/03_padding/padding.py")]) is None


def test_canvas_and_moodle_downloads_grade_as_the_folder_layout_and_export_back(tmp_path):
    secret = tmp_path / "secret"
    _, folder = grade(CLASS, tmp_path / "folder", secret, "-a", "03_padding", *(f"--student={s}" for s in PEOPLE))
    roster = write_roster(tmp_path / "roster.csv")
    done, canvas = grade(canvas_download(tmp_path / "canvas.zip"), tmp_path / "canvas", secret, "--roster", str(roster))  # 03 inferred
    assert "a Canvas download of 03_padding" in done.stdout
    assert {s: canvas[s]["raw_score"] for s in PEOPLE} == {s: folder[s]["raw_score"] for s in PEOPLE}, "the same scores as the folder layout"
    assert canvas["cleo"]["status"] == "missing" and canvas["kim"]["status"] == "missing", "on the roster, nothing in the download"
    assert folder["ivy"]["status"] == canvas["ivy"]["status"] == "late"
    assert float(canvas["ivy"]["score"]) == 90, "LATE, how late unknown: the least the flag allows, one day begun (10%)"
    assert "ivy/03_padding: late per the LMS, how late unknown" in done.stderr
    feedback = (tmp_path / "canvas" / "ben" / "03_padding" / "feedback.md").read_text()
    assert "handed in 2 times as `padding.py`: graded the newest" in feedback, "the resubmission is said, and ben's own file graded"
    assert "Canvas marked this hand-in late" in (tmp_path / "canvas" / "ivy" / "03_padding" / "feedback.md").read_text()
    times = tmp_path / "times.csv"
    times.write_text("student_id,assignment,time\nivy,03_padding," + (CLASS / "ivy" / "03_padding" / "timestamp.txt").read_text().strip() + "\n")
    _, timed = grade(tmp_path / "canvas.zip", tmp_path / "canvas", secret, "--roster", str(roster), "--times", str(times))
    assert timed["ivy"]["score"] == folder["ivy"]["score"] and timed["ivy"]["late_days"] == folder["ivy"]["late_days"], "--times gives how late"

    moodle_roster = write_roster(tmp_path / "moodle.csv", moodle=True)
    done, moodle = grade(moodle_download(tmp_path / "moodle"), tmp_path / "moodle-out", secret, "-a", "03_padding", "--roster", str(moodle_roster))
    assert {s: moodle[s]["raw_score"] for s in IN_MOODLE} == {s: folder[s]["raw_score"] for s in IN_MOODLE}, "mapped by name to the course's ids"
    assert moodle["ivy"]["status"] == "missing" and "3 file(s) of the download are no hand-in file" in done.stderr, "online text: said, left out"

    # the Canvas export, read as Canvas's gradebook importer reads it, matches the download's users and the grades of record
    exported = tmp_path / "canvas.csv"
    convgrade("export", "--to", "canvas", "--from", str(tmp_path / "canvas"), "--roster", str(roster), "--canvas-id", "03_padding=777", "--out", str(exported))
    imported = read_like_canvas(exported.read_text())
    assert imported["assignments"] == {"777": ("03_padding", "100")}
    with zipfile.ZipFile(tmp_path / "canvas.zip") as zf:
        users = {parse_canvas(name).lms_id for name in zf.namelist() if parse_canvas(name)}
    by_user = {user_id: s for s, (_, user_id, _) in (PEOPLE | ROSTER_ONLY).items()}
    assert set(imported["scores"]) == users | {"1003", "1010"}, "every student of the roster, matched by Canvas's user id"
    assert {user: row["777"] for user, row in imported["scores"].items()} == {user: f"{float(timed[s]['score']):g}" for user, s in by_user.items()}


def read_like_canvas(text: str) -> dict:
    """A gradebook CSV read by Canvas's rules: an assignment column is matched by the id in parentheses ending its header,
    the five identity columns are not assignments, a row starting "Points Possible" gives each column's points, a student is their ID."""
    rows = list(csv.reader(io.StringIO(text)))
    header, columns = rows[0], {}
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    points = next(row for row in rows[1:] if row[0].strip() == "Points Possible")
    for index, title in enumerate(header[5:], start=5):
        match = re.fullmatch(r"(.*)\s+\((\d+)\)", title)
        columns[index] = (match[2], match[1]) if match else (None, title)
    scores = {row[1]: {columns[i][0] or columns[i][1]: row[i] for i in columns} for row in rows[1:] if row[0].strip() != "Points Possible"}
    return {"assignments": {cid or title: (title, points[i]) for i, (cid, title) in columns.items()}, "scores": scores}


@pytest.fixture
def grades(tmp_path):
    """A grades.csv of two assignments (the second weighs 3): graded, late, missing, a grader error, a review flag."""
    rows = [
        dict(student_id="ada", assignment="01_convolution", score="100", max_score="100", status="graded", raw_score="100", late_days="0", handed_in="", review="", weight="1"),
        dict(student_id="ada", assignment="03_padding", score="80", max_score="100", status="late", raw_score="100", late_days="1.5", handed_in="2026-11-26T11:59:00+00:00", review="", weight="3"),
        dict(student_id="ben", assignment="01_convolution", score="48", max_score="100", status="graded", raw_score="48", late_days="0", handed_in="", review="threads (line 3)", weight="1"),
        dict(student_id="ben", assignment="03_padding", score="0", max_score="100", status="grader error: KeyError: 'x'", raw_score="", late_days="0", handed_in="", review="", weight="3"),
        dict(student_id="kim", assignment="01_convolution", score="0", max_score="100", status="missing", raw_score="0", late_days="0", handed_in="", review="", weight="1"),
        dict(student_id="kim", assignment="03_padding", score="0", max_score="100", status="missing", raw_score="0", late_days="0", handed_in="", review="", weight="3"),
    ]  # fmt: skip
    write_grades_csv(tmp_path / "grades.csv", rows)
    people = [Person("ada", "Lovelace, Ada", "1001", "S1", "ada1", "A", "ada@uni.example", "ID-1", "ada"),
              Person("ben", "Bitdiddle, Ben", "1002", email="ben@uni.example", idnumber="ID-2", username="ben")]  # fmt: skip
    return read_grades(tmp_path), people


def test_the_canvas_export_is_canvas_gradebook_csv(grades):
    graded, people = grades
    text, warnings = canvas_csv(graded, people, {"01_convolution": "501"})
    assert text.splitlines()[0] == "Student,ID,SIS User ID,SIS Login ID,Section,01_convolution (501),03_padding"
    imported = read_like_canvas(text)
    assert imported["assignments"] == {"501": ("01_convolution", "100"), "03_padding": ("03_padding", "100")}
    assert imported["scores"]["1001"] == {"501": "100", "03_padding": "80"}, "late: the score after the penalty"
    assert imported["scores"]["1002"] == {"501": "48", "03_padding": ""}, "a grader error decides no grade: Canvas keeps its own"
    assert imported["scores"][""] == {"501": "0", "03_padding": "0"}, "missing is 0"
    assert "kim: no Canvas ID, SIS User ID or SIS Login ID in the roster: Canvas cannot match the row" in warnings
    assert any("no Canvas assignment id for 03_padding" in line for line in warnings)
    assert "threads" not in text, "review flags are the instructor's"


def test_the_moodle_export_is_moodle_grade_import_csv(grades):
    graded, people = grades
    text, warnings = moodle_csv(graded, people, "idnumber", feedback=True)
    rows = list(csv.DictReader(io.StringIO(text)))  # Moodle maps columns by header: identity, grade items, feedback
    assert list(rows[0]) == ["ID number", "Full name", "01_convolution", "Feedback for 01_convolution", "03_padding", "Feedback for 03_padding"]
    ada = next(row for row in rows if row["ID number"] == "ID-1")
    assert (ada["01_convolution"], ada["03_padding"]) == ("100", "80")
    assert ada["Feedback for 03_padding"] == "late by 1.5 days: 100 before the late penalty, 80 after"
    ben = next(row for row in rows if row["ID number"] == "ID-2")
    assert ben["03_padding"] == "" and "threads" not in text
    assert warnings == ["kim: no idnumber in the roster: Moodle cannot match the row"]
    by_email = list(csv.DictReader(io.StringIO(moodle_csv(graded, people, "email")[0])))
    assert [row["Email address"] for row in by_email] == ["ada@uni.example", "ben@uni.example", ""] and "Feedback for 03_padding" not in by_email[0]


def test_the_wide_csv_has_the_weighted_total_the_table_shows(grades):
    graded, people = grades
    rows = list(csv.DictReader(io.StringIO(wide_csv(graded, people))))
    assert rows[0] == {"student_id": "out of", "name": "", "01_convolution": "100", "03_padding": "100", "total": "100"}
    ada, ben, kim = rows[1:]
    assert (ada["name"], ada["03_padding"], ada["total"]) == ("Lovelace, Ada", "80", f"{(1 * 1.0 + 3 * 0.8) / 4 * 100:.2f}")
    assert (ben["03_padding"], ben["total"]) == ("", f"{0.48 / 4 * 100:.2f}")
    assert kim["total"] == "0.00"
