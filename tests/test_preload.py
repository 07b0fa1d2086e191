"""``preload`` in assignment.toml: modules the grading sandbox imports once, before it forks each student's child.

A slow import (scikit-learn's, seconds) is then paid once per sandbox rather than once
per student, while what the children refuse stays what the assignment forbids: a
preloaded module that holds a forbidden function, or that a rule names (scikit-learn
loads ``scipy.ndimage``, which the convolution family names), is refused as before.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autograder.assignment import Assignment, AssignmentError
from autograder.student import CheckFailure, Student, begin_check

# Whether scipy.ndimage was loaded before the student's module ran, and the forbidden convolution two ways.
MODULE = """
import sys

PRELOADED = "scipy.ndimage" in sys.modules  # read at import, before this module imports anything of scipy

import numpy as np
import scipy.ndimage
from scipy.ndimage import convolve


def preloaded():
    return PRELOADED


def by_module():
    return float(scipy.ndimage.convolve(np.ones((3, 3)), np.ones((2, 2))).sum())


def by_alias():
    return float(convolve(np.ones((3, 3)), np.ones((2, 2))).sum())


def plant():
    scipy.ndimage.planted = "by an earlier student"
    return True


def finds_planted():
    return getattr(scipy.ndimage, "planted", None)
"""


def assignment_folder(root: Path, name: str, toml_tail: str) -> Path:
    folder = root / name / "01_preload"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text(f'title = "Preload"\nmodule = "pre"\n{toml_tail}')
    (folder / "pre.py").write_text(textwrap.dedent(MODULE))
    return folder


@pytest.mark.parametrize(
    ("line", "loaded"),
    [("", ()), ('preload = ["sklearn.datasets", "scipy"]\n', ("sklearn.datasets", "scipy"))],
)
def test_preload_is_read_as_module_names(tmp_path, line, loaded):
    assert Assignment.load(assignment_folder(tmp_path, "a", line)).preload == loaded


@pytest.mark.parametrize("line", ['preload = "sklearn"\n', 'preload = ["sklearn datasets"]\n', "preload = [3]\n", 'preload = ["sklearn."]\n'])
def test_preload_that_is_not_a_list_of_module_names_is_refused(tmp_path, line):
    with pytest.raises(AssignmentError, match=r"preload is a list of module names"):
        Assignment.load(assignment_folder(tmp_path, "a", line))


@pytest.fixture(scope="module")
def fresh_sandbox():
    """A sandbox of its own: what it preloads stays out of the session's shared one."""
    from autograder.sandbox.client import Sandbox

    started = Sandbox(bubblewrap=True)
    yield started
    started.stop()


def test_without_preload_the_child_imports_it_itself(fresh_sandbox, tmp_path):
    """First in this file: the sandbox has preloaded nothing yet."""
    folder = assignment_folder(tmp_path, "cleo", 'forbidden = ["convolution"]\n')
    begin_check()
    student = Student(Assignment.load(folder), folder, sandbox=fresh_sandbox, call_timeout=30.0)
    assert student.preloaded() is False
    with pytest.raises(CheckFailure, match=r"^`scipy.ndimage.convolve` is not allowed"):
        student.by_alias()  # refused on import (autograder.sandbox.refuse's _PatchOnImport), as before
    student.close()


def test_a_preloaded_module_is_inherited_and_its_forbidden_functions_still_refused(fresh_sandbox, tmp_path):
    """The zygote worked out the convolution family's refusal at start, before scipy.ndimage was loaded: the preload
    makes it work it out again, or ``scipy.ndimage.convolve`` would run unrefused in every child."""
    toml = 'forbidden = ["convolution"]\npreload = ["scipy.ndimage"]\n'
    students = []
    for name in ("ada", "ben"):
        folder = assignment_folder(tmp_path, name, toml)
        begin_check()
        students.append(Student(Assignment.load(folder), folder, sandbox=fresh_sandbox, call_timeout=30.0))
    ada, ben = students
    assert ada.preloaded() is True, "the child found scipy.ndimage imported by the zygote"
    for how in (ada.by_module, ada.by_alias):
        with pytest.raises(CheckFailure, match=r"^`scipy.ndimage.convolve` is not allowed in this exercise"):
            how()
    assert ada.plant() is True
    ada.close()
    assert ben.preloaded() is True
    assert ben.finds_planted() is None, "each child starts from the zygote's module, not the last student's"
    with pytest.raises(CheckFailure, match=r"^`scipy.ndimage.convolve` is not allowed"):
        ben.by_alias()
    ben.close()
