"""The commands as students and instructors run them, each in a process of its own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COURSE = [p.name for p in sorted((ROOT / "source").iterdir()) if (p / "assignment.toml").is_file()]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def convgrade(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run(str(BIN / "convgrade"), *args, cwd=cwd)


def test_every_released_stub_fails_every_check_as_not_implemented():
    result = run(sys.executable, "-m", "pytest", "assignments", "-q", "-rf", "-p", "no:cacheprovider", "--no-score-table")
    assert result.returncode == 1, result.stdout[-2000:]
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED ")]
    assert {line.split("/")[1] for line in failed} == set(COURSE)
    not_implemented = [line for line in failed if re.search(r" - not implemented yet: `\w+`", line)]
    assert failed == not_implemented
    assert re.search(r"^(\d+) failed in ", result.stdout.splitlines()[-1])
    assert " passed" not in result.stdout.splitlines()[-1]


def test_check_on_the_stubs_prints_the_table_with_zero_points():
    result = convgrade("check", "03_padding")
    assert result.returncode == 1
    assert "03_padding: Padding" in result.stdout
    assert "not implemented yet: `pad2d`" in result.stdout
    assert "not implemented yet: `conv2d_same`" in result.stdout
    assert re.search(r"visible total: 0/\d+ points \(0 of \d+ checks pass\)", result.stdout)
    assert "Traceback" not in result.stdout + result.stderr


def test_check_on_the_solutions_gives_every_assignment_full_marks():
    result = convgrade("check", "--path", "solutions")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"\W*\d\d_", line)]  # 01_convolution ... 10_capstone
    assert [re.search(r"\d\d_\w+", row).group() for row in rows] == COURSE
    for row in rows:
        passed, total = re.search(r"(\d+)/(\d+)\s+[\d.]+/[\d.]+", row).groups()
        points, max_points = re.search(r"([\d.]+)/([\d.]+)\W*$", row).groups()
        assert passed == total and points == max_points and int(total) > 0, row


@pytest.mark.parametrize(
    "forbidden_call",
    ["F.conv2d(input, weight, bias, stride=stride, padding=padding)",
     "torch.ops.aten.convolution(input, weight, bias, list(torch.nn.modules.utils._pair(stride)), "
     "list(torch.nn.modules.utils._pair(padding)), [1, 1], False, [0, 0], 1)"],
)
def test_calling_a_convolution_inside_conv2d_im2col_fails_with_the_forbidden_message(tmp_path, forbidden_call):
    folder = tmp_path / "02_conv_as_matmul"
    shutil.copytree(ROOT / "solutions" / "02_conv_as_matmul", folder)
    module = folder / "conv_matmul.py"
    text = module.read_text()
    head, rest = text.split("def conv2d_im2col(", 1)
    signature, body = rest.split('"""', 1)[0], rest.split('"""', 2)[2]
    following = body[body.index("\ndef ") :] if "\ndef " in body else ""
    module.write_text(
        f'{head}def conv2d_im2col({signature}"""Calls the library."""\n'
        f"    import torch.nn.functional as F\n    return {forbidden_call}\n{following}"
    )
    result = convgrade("check", "--path", str(folder))
    assert result.returncode == 1
    rows = [line for line in result.stdout.splitlines() if "FAIL" in line]
    said = "`F.conv2d` is not allowed in this exercise: implement it yourself"
    # every failing check says so; an error-case check says it of its case ("1 of 1 error cases fail; <case>: ...")
    assert rows and all(said in row or "error cases fail;" in row for row in rows), result.stdout
    assert result.stdout.count(said) >= len(rows), result.stdout
    assert all(row.lstrip().startswith(("conv2d_im2col", " ")) or "conv2d_im2col" in result.stdout for row in rows)
    assert "pass" in result.stdout, "the other functions still pass"


def test_a_student_runs_pytest_inside_the_assignment_folder(tmp_path):
    copy = tmp_path / "03_padding"
    shutil.copytree(ROOT / "solutions" / "03_padding", copy, ignore=shutil.ignore_patterns("hidden_tests", "__pycache__"))
    result = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=copy)
    assert result.returncode == 0, result.stdout
    assert "convgrade score" in result.stdout
    assert re.search(r"total: (\d+)/\1 points", result.stdout)


def test_release_check_fails_on_a_stale_release_and_names_the_file(tmp_path):
    # One assignment, its notebook included: each command collects its checks and runs nbgrader on it (`make test`
    # checks the whole course's release). Each kind of staleness (missing, differs, stray) is tested on the plan
    # itself in tests/test_release.py; here, the command's exit codes and what it says, three commands in all.
    shutil.copytree(ROOT / "source" / "03_padding", tmp_path / "source" / "03_padding", ignore=shutil.ignore_patterns("__pycache__"))
    assert convgrade("release", cwd=tmp_path).returncode == 0
    assert (tmp_path / "solutions" / "03_padding" / "hidden_tests" / "test_padding_hidden.py").is_file()
    up_to_date = convgrade("release", "--check", cwd=tmp_path)
    assert up_to_date.returncode == 0 and "up to date" in up_to_date.stdout
    (tmp_path / "assignments" / "03_padding" / "padding.py").write_text("# edited by hand\n")
    stale = convgrade("release", "--check", cwd=tmp_path)
    assert stale.returncode == 1
    assert "differs: assignments/03_padding/padding.py" in stale.stderr


def test_errors_for_people_are_one_sentence_without_a_traceback(tmp_path):
    nowhere = convgrade("check", "99_nothing")
    assert nowhere.returncode == 2
    assert "no assignment '99_nothing' here" in nowhere.stderr
    no_course = convgrade("release", cwd=tmp_path)
    assert no_course.returncode == 2 and "no course here" in no_course.stderr
    assert "Traceback" not in nowhere.stderr + no_course.stderr


def test_a_known_mistake_is_named_in_the_table_and_explained_in_the_details(tmp_path):
    folder = tmp_path / "03_padding"
    shutil.copytree(ROOT / "assignments" / "03_padding", folder)
    module = folder / "padding.py"
    # A student who mirrors with the edge pixel repeated ("symmetric") in reflect mode.
    mistaken = ROOT.joinpath("solutions/03_padding/padding.py").read_text().replace(
        "i = i.abs()", "i = torch.where(i < 0, -i - 1, i)"
    ).replace("2 * (size - 1) - i", "2 * size - 1 - i")
    assert mistaken != ROOT.joinpath("solutions/03_padding/padding.py").read_text()
    module.write_text(mistaken)
    result = convgrade("check", "--path", str(folder))
    assert result.returncode == 1
    assert "likely symmetric padding instead of reflect" in result.stdout
    assert "call:     pad2d(input=float32[1, 4], padding=(2, 2, 0, 0), mode='reflect')" in result.stdout
    assert "likely mistake: symmetric padding instead of reflect: reflect mirrors about the edge pixel" in result.stdout
    assert re.search(r"reflect:.*\s+1/1\s+pass", result.stdout) is None
