"""``convgrade submit``: a student's assignment folder checked as the grader will read it, then packed to hand in.

In order, each refusal one sentence that says what to fix (``Refused``):

1. the module is there under its exact name, a file of its own (``module_problem``);
2. it imports, here, in the student's own process: it is their code (``import_module``);
3. every function the release recorded (``[api]`` of the released ``assignment.toml``)
   exists with its parameters (``api_problems``);
4. the visible checks run as ``convgrade check`` runs them, and the forbidden calls they
   caught are repeated as warnings (``forbidden_calls``): a failing check refuses nothing;
5. the hand-in goes where the course takes it: to ``nbgrader submit`` where the course
   runs on nbgrader's exchange (``nbgrader_exchange``), else into
   ``<assignment>-<student>.zip`` with its manifest (``pack``, ``autograder.handin``).
"""

from __future__ import annotations

import getpass
import inspect
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from autograder.assignment import Assignment
from autograder.handin import defined_functions, helper_modules, write_handin
from autograder.scores import Scoreboard

NBGRADER_CONFIG = "nbgrader_config.py"
_COURSE_ID = re.compile(r"""^\s*c\.(?:CourseDirectory|Exchange)\.course_id\s*=\s*["']([^"'\n]+)["']""", re.MULTILINE)
_NOT_ALLOWED = re.compile(r"`[^`\n]+` is not allowed in this exercise[^\n]*")


class Refused(Exception):
    """The folder cannot be handed in as it is; the message says what to fix."""


def checked_folder(folder: Path, student: str | None) -> tuple[Assignment, str, str]:
    """Steps 1 to 3 on the assignment in ``folder``, and the student id: the assignment, the id and where it came from."""
    who, whence = student_id(student)
    released = Assignment.load(folder)
    if problem := module_problem(released):
        raise Refused(problem)
    module, source = import_module(released)
    if problems := api_problems(released.api, module, source):
        raise Refused("\n  ".join([f"{released.module}.py is not the module the checks call:", *problems]))
    return released, who, whence


def module_problem(assignment: Assignment) -> str | None:
    """Why the module is not where the grader reads it, under its exact name, as a file of its own (None: it is)."""
    wanted, folder = assignment.module_file, assignment.folder
    if wanted.is_symlink():
        return f"`{wanted.name}` is a symbolic link: the grader reads no links, so put the file itself in {folder}"
    if wanted.is_file():
        return None
    modules = sorted(path.name for path in folder.glob("*.py"))
    same_but_case = [name for name in modules if name.lower() == wanted.name.lower()]
    if same_but_case:
        return f"found `{same_but_case[0]}`, expected `{wanted.name}`: rename it, the grader reads `{wanted.name}` exactly"
    found = ", ".join(f"`{name}`" for name in modules) or "no .py file"
    return f"no `{wanted.name}` in {folder} (found {found}): the module you edit keeps the name it was released with, `{wanted.name}`"


def import_module(assignment: Assignment) -> tuple[ModuleType, str]:
    """The student's module imported here, and its source (``Refused`` naming the line that stops it)."""
    path = assignment.module_file
    source = path.read_text(encoding="utf-8", errors="replace")  # the student's own file, in their own process
    try:
        compile(source, str(path), "exec")  # before torch is imported: a syntax error is said at once
    except SyntaxError as exc:
        line = (exc.text or "").rstrip()
        code = line.lstrip()
        caret = " " * max((exc.offset or 1) - 1 - (len(line) - len(code)), 0) + "^"
        shown = f"\n    {code}\n    {caret}" if code else ""
        raise Refused(f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}{shown}") from None
    from autograder.sandbox.call import ImportFailed, load_module  # imports torch, as the module itself will

    try:
        return load_module(path, assignment.module), source
    except ImportFailed as exc:
        raise Refused(f"{exc}: the grader could not import it either") from None


def api_problems(expected: Mapping[str, str], module: ModuleType, source: str) -> list[str]:
    """What the module lacks of the released API: a function missing, or taking other parameters. Empty: all there."""
    defined = defined_functions(source)
    problems = []
    for name, parameters in expected.items():
        if not hasattr(module, name):
            problems.append(f"`{name}` is missing: the assignment asks for `{name}{parameters}`")
            continue
        value = getattr(module, name)
        if parameters and not callable(value):
            problems.append(f"`{name}` is not a function: the assignment asks for `{name}{parameters}`")
            continue
        found = defined.get(name) or _parameters_of(value)
        if parameters and found != parameters:
            problems.append(f"`{name}{found}` takes other parameters than the assignment's `{name}{parameters}`: the checks call it that way")
    return problems


def _parameters_of(function: object) -> str:
    """A function's parameters as ``signature_text`` writes them, for one the module did not define itself (imported, assigned)."""
    try:
        signature = inspect.signature(function)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"
    plain = [parameter.replace(annotation=inspect.Parameter.empty) for parameter in signature.parameters.values()]
    return str(signature.replace(parameters=plain, return_annotation=inspect.Signature.empty))


def forbidden_calls(board: Scoreboard) -> list[str]:
    """Each forbidden call the checks caught, once per function: ``pad2d: `F.pad` is not allowed in this exercise...``."""
    found = {}
    for result in board.results:
        for sentence in _NOT_ALLOWED.findall(f"{result.reason}\n{result.details}"):
            found.setdefault(f"{result.task}: {sentence}", None)
    return list(found)


def student_id(given: str | None) -> tuple[str, str]:
    """The student id and where it came from: ``--student``, else JupyterHub's login, else the user name here (as nbgrader does)."""
    from autograder.grading.submissions import name_problem

    if given:
        found = given, "--student"
    elif os.environ.get("JUPYTERHUB_USER"):
        found = os.environ["JUPYTERHUB_USER"], "JUPYTERHUB_USER, your JupyterHub login"
    else:
        found = getpass.getuser(), "your user name on this computer: give --student if the course knows you by another id"
    if problem := name_problem(found[0]):
        raise Refused(f"the student id {found[0]!r} (from {found[1]}) {problem}: give your id with --student")
    return found


@dataclass(frozen=True)
class Exchange:
    """nbgrader's exchange, where the course takes hand-ins through it."""

    config: Path  # the nbgrader_config.py that names the course
    course: str  # its course id
    where: Path  # the folder to run ``nbgrader submit`` in, so that it reads that config

    def command(self, folder: Path, student: str | None = None) -> list[str]:
        """The ``nbgrader submit`` of the assignment in ``folder``, run in ``where``.

        ``student``: the id given with ``--student``; without one nbgrader finds it as it always does.
        """
        command = ["nbgrader", "submit", folder.name, "--course", self.course, *(["--student", student] if student else [])]
        return command + ([f"--Exchange.assignment_dir={folder.parent}"] if folder.parent != self.where else [])

    def shown(self, folder: Path, student: str | None = None) -> str:
        """The command as a shell line."""
        return shlex.join(self.command(folder, student))


def nbgrader_exchange(folder: Path) -> Exchange | None:
    """The exchange the course hands in through: an ``nbgrader_config.py`` that names a course id, in a folder
    above the assignment's (the course folder) or in Jupyter's config folder. None: hand in the zip."""
    config_dir = Path(os.environ.get("JUPYTER_CONFIG_DIR") or Path.home() / ".jupyter")
    for where in [*folder.parents, config_dir]:
        try:
            text = (where / NBGRADER_CONFIG).read_text(encoding="utf-8", errors="replace")[:200_000]
        except OSError:
            continue
        if match := _COURSE_ID.search(text):
            return Exchange(where / NBGRADER_CONFIG, match.group(1), where if where != config_dir else folder.parent)
    return None


def nbgrader_submit(command: list[str], where: Path) -> int | None:
    """Run ``nbgrader submit`` in ``where``, its output the student's to read: its exit code, or None where nbgrader is not installed."""
    if shutil.which(command[0]) is None:
        return None
    return subprocess.run(command, cwd=where, check=False).returncode


def hand_in_files(assignment: Assignment) -> list[Path]:
    """What the grader needs of the folder: the module, the helper modules it imports, the notebook (when there is one)."""
    notebook = assignment.folder / f"{assignment.name}.ipynb"
    files = [assignment.module_file, *helper_modules(assignment.module_file)]
    return files + ([notebook] if notebook.is_file() and not notebook.is_symlink() else [])


def pack(assignment: Assignment, student: str, student_from: str, out: Path, now: datetime | None = None) -> tuple[Path, dict]:
    """Write ``OUT/<assignment>-<student>.zip`` with its manifest; its path and the manifest."""
    archive = out / f"{assignment.name}-{student}.zip"
    files = hand_in_files(assignment)
    manifest = write_handin(
        archive, assignment.folder, files, assignment=assignment.name, student=student, student_from=student_from,
        now=now or datetime.now(timezone.utc),
    )  # fmt: skip
    return archive, manifest
