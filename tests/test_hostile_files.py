"""Hostile hand-ins on the host side: links and special files are refused, never followed nor opened; ids that
would collide with the output are refused; every text a check shows is bounded. Graded through the real
`convgrade grade` (bubblewrap when installed), in one grading process, the attackers before their victims."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.grading.results import MAX_CHECK_TEXT, MAX_REASON, capped, render_feedback, write_results_json
from autograder.grading.submissions import MAX_ID_LENGTH, name_problem, shown_id
from autograder.scores import CheckResult, Scoreboard

CONVGRADE = str(Path(sys.executable).parent / "convgrade")
FULL = "20.0"  # the tiny course's points: the reference earns them all


def _zip(path: Path, members: dict[str, str], links: dict[str, str] = {}) -> None:  # noqa: B006 - read only
    """A zip of ``members`` (name -> text) and of symbolic links (name -> target), links as Unix mode bits say."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)


def _hostile_class(course: Path, submitted: Path) -> dict[str, str]:
    """zoe hands in the reference; everyone before her in the order graded attacks; what each student's reason must say."""
    reference = course / "source" / "01_tiny" / "tiny.py"
    solutions = course / "solutions" / "01_tiny"  # where a course keeps its reference
    solutions.mkdir(parents=True)
    shutil.copy(reference, solutions / "tiny.py")
    victim = submitted / "zoe" / "01_tiny"
    victim.mkdir(parents=True)
    shutil.copy(reference, victim / "tiny.py")

    def folder(student: str) -> Path:
        path = submitted / student / "01_tiny"
        path.mkdir(parents=True)
        return path

    folder("a_solutions").joinpath("tiny.py").symlink_to(solutions / "tiny.py")
    folder("b_source").joinpath("tiny.py").symlink_to(reference)
    folder("c_classmate").joinpath("tiny.py").symlink_to(victim / "tiny.py")
    folder("c_relative").joinpath("tiny.py").symlink_to(Path("..", "..", "zoe", "01_tiny", "tiny.py"))
    folder("c_case").joinpath("Tiny.py").symlink_to(victim / "tiny.py")
    (folder("c_deeper") / "inner").mkdir()
    (submitted / "c_deeper" / "01_tiny" / "inner" / "tiny.py").symlink_to(victim / "tiny.py")
    (submitted / "d_student_link").symlink_to(submitted / "zoe", target_is_directory=True)
    (submitted / "e_folder_link").mkdir()
    (submitted / "e_folder_link" / "01_tiny").symlink_to(victim, target_is_directory=True)
    os.mkfifo(folder("f_fifo") / "tiny.py")
    (submitted / "g_fifo_zip").mkdir()
    os.mkfifo(submitted / "g_fifo_zip" / "01_tiny.zip")
    folder("h_dev_zero").joinpath("tiny.py").symlink_to("/dev/zero")
    (submitted / "i_zip_link").mkdir()
    (submitted / "i_zip_link" / "01_tiny.zip").symlink_to("/dev/zero")
    (submitted / "j_zip_folder" / "01_tiny.zip").mkdir(parents=True)
    shutil.copy(reference, submitted / "j_zip_folder" / "01_tiny.zip" / "tiny.py")
    _zip(submitted / "k_zip_member_link" / "01_tiny.zip", {}, {"tiny.py": str(solutions / "tiny.py")})
    helper = folder("l_helper_link")  # the module imports the reference through a helper that is a link: not importable
    (helper / "tiny.py").write_text("from helpers import double\n")
    (helper / "helpers.py").symlink_to(solutions / "tiny.py")
    os.mkfifo(helper / "stuck.py")
    os.mkfifo(helper / "timestamp.txt")  # nbgrader's hand-in time, as a pipe: no time, no hang
    return {
        "a_solutions": "`tiny.py` is a symbolic link, not the module itself",
        "b_source": "`tiny.py` is a symbolic link",
        "c_classmate": "`tiny.py` is a symbolic link",
        "c_relative": "`tiny.py` is a symbolic link",
        "c_case": "`Tiny.py` is a symbolic link",
        "c_deeper": "`inner/tiny.py` is a symbolic link",
        "d_student_link": "the student folder d_student_link is a symbolic link",
        "e_folder_link": "01_tiny is a symbolic link, not a folder",
        "f_fifo": "`tiny.py` is a pipe, not the module itself",
        "g_fifo_zip": "01_tiny.zip is a pipe, not a regular file",
        "h_dev_zero": "`tiny.py` is a symbolic link",
        "i_zip_link": "01_tiny.zip is a symbolic link, not a regular file",
        "j_zip_folder": "01_tiny.zip is a folder, not a regular file",
        "k_zip_member_link": "01_tiny.zip holds 'tiny.py', a symbolic link",
    }


def _grade(submitted: Path, out: Path, course: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    command = [CONVGRADE, "grade", str(submitted), "--out", str(out), "--processes", "1", "--root", str(course), *extra]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "grades.csv", newline="") as handle:
        return done, {row["student_id"]: row for row in csv.DictReader(handle)}


def test_links_and_special_files_are_bad_submissions_and_no_one_else_is_touched(tiny_course, tmp_path):
    submitted, out = tmp_path / "submitted", tmp_path / "out"
    reasons = _hostile_class(tiny_course, submitted)
    _, rows = _grade(submitted, out, tiny_course, "--no-class-page")  # it ends: no pipe is opened, /dev/zero never read
    assert rows["zoe"]["score"] == FULL and rows["zoe"]["status"] == "graded", "the victim, graded after every attacker"
    assert rows["l_helper_link"]["status"] == "graded" and float(rows["l_helper_link"]["score"]) < 10, "a linked helper is not read"
    for student, reason in reasons.items():
        assert (rows[student]["status"], rows[student]["score"]) == ("bad submission", "0.0"), student
        results = json.loads((out / student / "01_tiny" / "results.json").read_text())
        assert reason in results["output"] and results["score"] == 0, (student, results["output"])
        feedback = (out / student / "01_tiny" / "feedback.md").read_text()
        assert reason in " ".join(feedback.split()), student
    assert set(rows) == {*reasons, "l_helper_link", "zoe"}
    assert not (out / ".extracted" / "k_zip_member_link" / "01_tiny").exists(), "nothing of a refused zip is written"


@pytest.mark.parametrize(
    "name, said",
    [
        ("grades.csv", "the name of the grader's own output"),
        ("Class.HTML", "the name of the grader's own output"),
        (".extracted", "is hidden"),
        ("..", "is not a folder name"),
        ("a/b", "holds a path separator"),
        ("a\\b", "holds a path separator"),
        ("esc\x1b[2Jred", "holds control characters"),
        ("tab\there", "holds control characters"),
        ("x" * (MAX_ID_LENGTH + 1), "is longer than"),
    ],
)
def test_ids_that_cannot_name_a_folder_of_results_say_why(name, said):
    from autograder.grading.jobs import OUTPUT_NAMES

    assert said in name_problem(name, OUTPUT_NAMES)
    assert shown_id(name).isprintable() and len(shown_id(name)) <= MAX_ID_LENGTH


def test_ordinary_ids_are_kept_as_they_are():
    from autograder.grading.jobs import OUTPUT_NAMES

    for name in ("ann", "Ann Smith", "ann.smith@uni.example", "zoë", "s1234567", "grades"):
        assert name_problem(name, OUTPUT_NAMES) is None and shown_id(name) == name


def test_student_ids_that_would_collide_with_the_output_are_refused_and_the_batch_completes(tiny_course, tmp_path):
    submitted, out = tmp_path / "submitted", tmp_path / "out"
    reference = (tiny_course / "source" / "01_tiny" / "tiny.py").read_text()
    hostile = ["grades.csv", "class.html", ".extracted", ".refused", "esc\x1b[2Jred", "y" * 150, "zoe"]
    for student in hostile:
        (submitted / student / "01_tiny").mkdir(parents=True)
        (submitted / student / "01_tiny" / "tiny.py").write_text(reference)
    done, rows = _grade(submitted, out, tiny_course, "--class-page")
    assert (out / "grades.csv").is_file() and (out / "class.html").is_file()
    assert rows["zoe"]["score"] == FULL
    refused = {shown_id(student) for student in hostile[:-1]}
    assert refused == set(rows) - {"zoe"}, "a row each, under the id as it can be shown"
    for student in refused:
        assert (rows[student]["status"], rows[student]["score"]) == ("bad submission", "0.0")
    assert "esc\\x1b[2Jred" in rows and "\x1b" not in done.stdout, "no control character reaches the terminal"
    marker_rows = [json.loads(path.read_text())["row"] for path in (out / ".refused").glob("*/01_tiny/.graded.json")]
    assert len(marker_rows) == 5, "every refused id's files are under OUT/.refused (the long id, cut short, is a folder of its own)"
    output = json.loads(next((out / ".refused").glob("*/01_tiny/results.json")).read_text())["output"]
    assert "is not a safe folder name" in output and "rename the student's folder" in output
    _, again = _grade(submitted, out, tiny_course, "--no-class-page", "--student", "zoe")
    assert again == rows, "a run of one student keeps the refused rows (read back from OUT/.refused)"


def _huge(result: CheckResult) -> CheckResult:
    return CheckResult(**{**result.__dict__, "reason": "r" * 2**20, "details": "d" * 2**20, "case": "c" * 2**20})


def test_each_checks_text_is_capped_in_results_json_and_the_feedback(tmp_path):
    """A 1 MiB message from every check once made a 66 MB results.json and 131 MB of feedback pages."""
    base = CheckResult("t::a", "01_tiny", "double", "doubles", 9.0, False)
    board = Scoreboard([_huge(base), _huge(CheckResult("t::b", "01_tiny", "double", "hidden", 9.0, False, hidden=True))])
    write_results_json(tmp_path / "results.json", board, execution_time=1)
    size = (tmp_path / "results.json").stat().st_size
    assert size < 2 * (MAX_CHECK_TEXT + 3 * MAX_REASON) + 4096, size
    tests = json.loads((tmp_path / "results.json").read_text())["tests"]
    assert tests[0]["output"].endswith(f"[{2**20 - MAX_CHECK_TEXT} more characters not shown]")
    assert f"[{2**20 - MAX_REASON} more characters not shown]" in tests[1]["output"], "a hidden check: its reason and case"
    pages = render_feedback(board, student="ann", assignment="01_tiny", title="Tiny")
    for name, text in pages.items():
        assert len(text) < 2 * (2 * MAX_CHECK_TEXT + 3 * MAX_REASON) + 8192, (name, len(text))
        assert "more characters not shown" in text
    assert board.results[0].details == "d" * 2**20, "the board itself is left whole: only what is written is cut"


def test_a_short_text_is_left_alone():
    assert capped("a reason") == "a reason" and capped("x" * MAX_CHECK_TEXT) == "x" * MAX_CHECK_TEXT


def test_a_function_that_raises_a_huge_message_makes_bounded_files(tiny_course, tmp_path):
    submitted, out = tmp_path / "submitted", tmp_path / "out"
    (submitted / "ann" / "01_tiny").mkdir(parents=True)
    (submitted / "ann" / "01_tiny" / "tiny.py").write_text(
        "def double(x):\n    print('p' * 2**20)\n    raise TypeError('x ' + 'm' * 2**20)\n"
    )
    _, rows = _grade(submitted, out, tiny_course, "--no-class-page")
    assert rows["ann"]["status"] == "graded"
    for name in ("results.json", "feedback.md", "feedback.html"):
        size = (out / "ann" / "01_tiny" / name).stat().st_size
        assert size < 3 * 2 * (MAX_CHECK_TEXT + 3 * MAX_REASON) + 8192, (name, size)
