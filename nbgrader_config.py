"""nbgrader's view of this course: read by every `nbgrader` command run in this folder, and by `convgrade release`.

nbgrader's steps map onto the course's folders (source -> assignments and
solutions; submitted -> autograded -> feedback), so `nbgrader generate_assignment`,
`generate_solution`, `autograde`, `generate_feedback` and `export` work here.

The rules that keep the two tools in step (README, "Running the course with nbgrader"):

- notebooks are nbgrader's: `convgrade release` runs the very preprocessors
  configured here, in memory, so either tool writes the same bytes;
- the `.py` modules are convgrade's: no nbgrader command copies an instructor's
  module (it holds the solutions) into `assignments/` or `solutions/`; a hook
  writes convgrade's student stub, or the reference, instead;
- hidden tests are never copied by any nbgrader command (not into `assignments/`,
  not into `autograded/` from where `generate_feedback` would hand them out);
  a notebook's `check(..., hidden=True)` reads them from `source/` under the course root;
- `autograde` keeps the student's module (it is what is graded) and restores
  everything else, test cells included, from `source/` and the gradebook.
"""

import tomllib
from pathlib import Path

from nbgrader.preprocessors import ClearMarkScheme, ClearOutput, IncludeHeaderFooter, LockCells

c = get_config()  # noqa: F821 - traitlets defines get_config while it loads this file

COURSE = Path(__file__).resolve().parent

# -- nbgrader's steps, in this course's folders -------------------------------
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.solution_directory = "solutions"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# -- what nbgrader copies besides notebooks -----------------------------------
# Never copied anywhere: nbgrader's defaults, caches, the hidden tests, and pytest configuration,
# which a submission could otherwise bring along to change how its checks run (source/ has none:
# `convgrade release` refuses it).
NEVER_COPIED = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".pytest_cache", ".hypothesis", ".DS_Store",
    "hidden_tests",
    "conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml",
]  # fmt: skip
c.CourseDirectory.ignore = NEVER_COPIED

# The module each assignment's student edits, from its assignment.toml.
MODULES = {
    folder.name: tomllib.loads((folder / "assignment.toml").read_text(encoding="utf-8"))["module"] + ".py"
    for folder in sorted((COURSE / "source").glob("*"))
    if (folder / "assignment.toml").is_file()
}

# Releasing: nbgrader leaves the modules alone; convgrade's hooks write the stub / the reference.
for app in ("GenerateAssignmentApp", "GenerateSolutionApp"):
    c[app].CourseDirectory.ignore = NEVER_COPIED + sorted(set(MODULES.values()))
c.GenerateAssignment.post_convert_hook = "autograder.release.hooks.nbgrader_wrote_student_release"
c.GenerateSolution.post_convert_hook = "autograder.release.hooks.nbgrader_wrote_reference"

# The reference notebooks are not executed (no outputs): solutions/ stays byte-for-byte
# reproducible. tests/test_notebooks.py runs every one of them instead.
c.GenerateSolution.preprocessors = [IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme]

# -- autograding ---------------------------------------------------------------
# The student's module is what is graded: never overwritten by the source's (which holds the solutions).
c.Autograde.exclude_overwriting = {name: [module] for name, module in MODULES.items()}
# A graded cell runs a whole class of checks; give it time (seconds per cell).
c.Execute.timeout = 300
