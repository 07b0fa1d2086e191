"""The ``convgrade`` command."""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from autograder import settings
from autograder.assignment import AssignmentError, assignments_in, enclosing_assignment, find_course_root

app = typer.Typer(
    help="convgrade: an auto-graded course on convolution, and its autograder.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # an error is one sentence on one line


def fail(message: str) -> typer.Exit:
    """Print one clear sentence and return the exit to raise."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


def _course_root(root: Optional[Path]) -> Path:
    found = root or find_course_root()
    if found is None:
        raise fail("no course here: run this in the course folder (the one holding source/) or pass --root")
    return found


@app.command()
def release(
    root: Annotated[Optional[Path], typer.Option(help="the course folder, holding source/ (default: found from here)")] = None,
    check: Annotated[bool, typer.Option("--check", help="only compare: exit 1 when assignments/ or solutions/ are stale")] = False,
) -> None:
    """Generate assignments/ (student stubs) and solutions/ (reference) from source/."""
    from autograder.release import ReleaseError
    from autograder.release.plan import plan_release, stale_files, write_release

    root = _course_root(root)
    if not (root / "source").is_dir():
        raise fail(f"{root} has no source/ folder to release from")
    try:
        plan = plan_release(root / "source")
    except (ReleaseError, AssignmentError) as exc:
        raise fail(str(exc)) from None
    if check:
        stale = stale_files(plan, root)
        if stale:
            errors.print("[bold red]assignments/ or solutions/ are stale[/]; run `convgrade release`:", highlight=False)
            for line in stale:
                errors.print(f"  {line}", highlight=False)
            raise typer.Exit(code=1)
        console.print(f"assignments/ and solutions/ are up to date ({len(plan)} files).")
        return
    changes = write_release(plan, root)
    count = len(assignments_in(root / "source"))
    console.print(f"released {count} assignments to assignments/ and solutions/ ({len(changes)} files changed).")


def _resolve_folder(assignment: Optional[str], path: Optional[Path]) -> Path:
    if path is not None:
        return path
    if assignment is None:
        here = enclosing_assignment(Path.cwd())
        if here is None:
            raise fail("name an assignment (e.g. `convgrade check 03_padding`) or run this inside its folder")
        return here.folder
    root = find_course_root()
    folder = (root / "assignments" / assignment) if root else Path(assignment)
    if not folder.is_dir():
        raise fail(f"no assignment {assignment!r} here: looked for {folder}")
    return folder


@app.command()
def check(
    assignment: Annotated[Optional[str], typer.Argument(help="the assignment, e.g. 03_padding")] = None,
    path: Annotated[
        Optional[Path],
        typer.Option(help="the folder to check: an assignment folder, or a folder of them (default: assignments/ASSIGNMENT)"),
    ] = None,
    details: Annotated[bool, typer.Option(help="after the table, explain every failure in full")] = True,
) -> None:
    """Run the visible checks of an assignment against the module in its folder."""
    from autograder.checks.rubric import hidden_summary
    from autograder.checks.run import run_visible_checks
    from autograder.checks.tables import assignments_table, score_table, total_line

    folder = _resolve_folder(assignment, path)
    try:
        single = (folder / "assignment.toml").is_file()
        folders = [folder] if single else [a.folder for a in assignments_in(folder)]
    except AssignmentError as exc:
        raise fail(str(exc)) from None
    if not folders:
        raise fail(f"{folder} holds no assignment (no assignment.toml in it or its subfolders)")
    runs = [run_visible_checks(f) for f in folders]
    for run in runs:
        if not run.board.results:
            errors.print(run.pytest_output)
            raise fail(f"no check ran in {run.assignment.folder}: see pytest's output above")
    if single:
        run = runs[0]
        console.print(score_table(run.board.results, title=f"{run.assignment.name}: {run.assignment.title}"))
        console.print(total_line(run.board, "visible total"))
        hidden = hidden_summary(run.assignment, run.board)
        if hidden:
            console.print(hidden, highlight=False)
        if details:
            for result in run.board.results:
                if not result.passed and result.details and not result.reason.startswith("not implemented"):
                    console.rule(Text(f"{result.task}: {result.check}"), style="red")
                    console.print(result.details, highlight=False, markup=False)
    else:
        boards = {run.assignment.name: run.board for run in runs}
        console.print(assignments_table(boards, title=f"visible checks in {folder}"))
    all_passed = all(r.passed for run in runs for r in run.board.results)
    raise typer.Exit(code=0 if all_passed else 1)


@app.command()
def grade(
    submitted: Annotated[Path, typer.Argument(help="the class's submissions: SUBMITTED/<student>/<assignment>/ or <assignment>.zip")],
    assignment: Annotated[Optional[list[str]], typer.Option("--assignment", "-a", help="grade only this assignment (repeatable; default: every assignment in source/)")] = None,
    out: Annotated[Path, typer.Option(help="where results, feedback and grades.csv go")] = Path("out"),
    processes: Annotated[int, typer.Option("--processes", "-j", min=1, help="grading processes, each with a sandbox of its own")] = max(1, min(settings.GRADING_PROCESSES, os.cpu_count() or 1)),
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds one call of a student's function may take")] = settings.CALL_TIMEOUT,
    regrade: Annotated[bool, typer.Option("--regrade", help="grade again what a previous run already graded")] = False,
    student: Annotated[Optional[list[str]], typer.Option("--student", "-s", help="grade only this student (repeatable; default: every student in SUBMITTED)")] = None,
    roster: Annotated[Optional[str], typer.Option(help="the class's student ids: a CSV, or nbgrader's gradebook (a .db file or a SQLAlchemy URL); a student with no folder in SUBMITTED is listed, every assignment missing")] = None,
    extensions: Annotated[Optional[Path], typer.Option(help="a CSV of extensions: student_id, assignment (empty: all), days")] = None,
    times: Annotated[Optional[Path], typer.Option(help="a CSV of hand-in times: student_id, assignment, time (ISO 8601), over nbgrader's timestamp.txt")] = None,
    class_page: Annotated[bool, typer.Option("--class-page/--no-class-page", help="write OUT/class.html, the class at a glance (a few seconds of plotting)")] = True,
    root: Annotated[Optional[Path], typer.Option(help="the course folder, holding source/ (default: found from here)")] = None,
    gradebook: Annotated[Optional[str], typer.Option(help="also record the grades in this nbgrader gradebook: a SQLite file or a SQLAlchemy URL")] = None,
    secret: Annotated[Optional[Path], typer.Option(help="the course secret, from which each student's hidden inputs derive (default: $CONVGRADE_SECRET_FILE, else ROOT/.convgrade/secret; made on first use)")] = None,
) -> None:
    """Grade a class against the visible and hidden tests, with student code in a sandbox."""
    from autograder.grading.jobs import class_grades, plan
    from autograder.grading.pool import grade_all
    from autograder.grading.results import GRADES_CSV, write_grades_csv
    from autograder.course import Course, CourseError, read_extensions, read_times
    from autograder.grading.late import with_late_policy
    from autograder.grading.secret import default_path
    from autograder.grading.submissions import SubmissionError
    from autograder.grading.table import class_table

    root = _course_root(root)
    source = root / "source"
    if not source.is_dir():
        raise fail(f"{root} has no source/ folder: the grader runs the instructor's tests from there")
    if not submitted.is_dir():
        raise fail(f"{submitted} is not a folder of submissions")
    known = [a.name for a in assignments_in(source)]
    unknown = [name for name in assignment or [] if name not in known]
    if unknown:
        raise fail(f"unknown assignment {', '.join(unknown)}; source/ has {', '.join(known)}")
    url = _gradebook_url(gradebook) if gradebook else None
    course_secret = _course_secret(secret or default_path(root))
    try:
        course = Course.load(root)
        granted = read_extensions(extensions) if extensions else {}
        students_of_roster = _roster(roster) if roster else []
        jobs = plan(
            submitted, source, assignment or known, out, call_timeout=timeout, budget=settings.SUBMISSION_BUDGET,
            students=student, roster=students_of_roster, times=read_times(times) if times else {}, secret=course_secret,
        )  # fmt: skip
    except (SubmissionError, CourseError) as exc:
        raise fail(str(exc)) from None
    if not jobs:
        whose = f" by {', '.join(student)}" if student else ""
        raise fail(f"{submitted} holds no submission of {', '.join(assignment or known)}{whose}")
    with _progress(len(jobs)) as advance:
        rows = grade_all(jobs, processes=processes, call_timeout=timeout, regrade=regrade, progress=advance)
    in_source = {a.name: a for a in assignments_in(source)}
    grades, undecided = with_late_policy(
        class_grades(out, jobs, rows), {name: a.due for name, a in in_source.items()}, course.late, granted
    )
    write_grades_csv(out / GRADES_CSV, [asdict(row) for row in grades])
    console.print(class_table(grades, {name: a.weight for name, a in in_source.items()}))
    for line in undecided:
        errors.print(f"[yellow]warning:[/] {line}", highlight=False)
    if class_page:
        from autograder.grading.class_page import write_class_page

        console.print(f"the class at a glance: {write_class_page(out, grades)}", highlight=False)
    console.print(f"grades: {out / GRADES_CSV}; results and feedback: {out}/<student>/<assignment>/")
    if url:
        _record_in_gradebook(url, root, out)


@app.command()
def gradescope(
    assignment: Annotated[str, typer.Argument(help="the assignment, e.g. 03_padding")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="the zip to write (default: ASSIGNMENT-gradescope.zip here)")] = None,
    root: Annotated[Optional[Path], typer.Option(help="the course folder, holding source/ (default: found from here)")] = None,
    secret: Annotated[Optional[Path], typer.Option(help="the course secret, from which each student's hidden inputs derive (default: $CONVGRADE_SECRET_FILE, else ROOT/.convgrade/secret; made on first use)")] = None,
) -> None:
    """Build ASSIGNMENT's Gradescope autograder (a zip to upload on its Configure Autograder page)."""
    from autograder.grading.gradescope import GradescopeError, build_archive
    from autograder.grading.secret import default_path

    root, target = _course_root(root), output or Path(f"{assignment}-gradescope.zip")
    try:
        build_archive(root, assignment, target, _course_secret(secret or default_path(root)))
    except (GradescopeError, AssignmentError) as exc:
        raise fail(str(exc)) from None
    console.print(f"wrote {target}: upload it on {assignment}'s Configure Autograder page (Ubuntu 22.04); keep it private, it holds the hidden tests and the course secret", highlight=False)


def _course_secret(path: Path) -> bytes:
    """The course secret in ``path``, made there on first use with a one-line notice."""
    from autograder.grading.secret import SecretError, load_secret

    try:
        value, created = load_secret(path)
    except SecretError as exc:
        raise fail(str(exc)) from None
    if created:
        errors.print(f"made the course secret {path}: hidden inputs derive from it; keep it, and keep it private", highlight=False)
    return value


def _roster(value: str) -> list[str]:
    """The roster's student ids: a CSV's, or those of nbgrader's gradebook (a SQLite file ending in .db, or a URL)."""
    from autograder.grading.submissions import read_roster

    if value.endswith(".db") or "://" in value:
        from autograder.grading.nbgrader_gradebook import GradebookError, database_url, students_of

        if "://" not in value and not Path(value).is_file():
            raise fail(f"there is no gradebook at {value} to take the roster from")
        try:
            return students_of(database_url(value))
        except GradebookError as exc:
            raise fail(str(exc)) from None
    return read_roster(Path(value))


def _gradebook_url(value: str) -> str:
    """The gradebook's URL, opened once before grading so a bad one fails at once."""
    from autograder.grading.nbgrader_gradebook import GradebookError, database_url, open_gradebook

    url = database_url(value)
    try:
        with open_gradebook(url):
            pass
    except GradebookError as exc:
        raise fail(str(exc)) from None
    return url


def _record_in_gradebook(url: str, root: Path, out: Path) -> None:
    from autograder.grading.nbgrader_gradebook import GradebookError, record_grades

    try:
        recorded = record_grades(url, root, out)
    except GradebookError as exc:
        raise fail(str(exc)) from None
    for warning in recorded.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(recorded.line(), highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _progress(total: int):  # noqa: ANN202 - yields the per-job callback
    """A progress bar with ETA on a terminal; one plain line per submission elsewhere (CI)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if console.is_terminal:
        with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.description}"), console=console) as bar:
            task = bar.add_task("", total=total)
            yield lambda job, row, skipped: bar.update(task, advance=1, description=f"{job.submission.student}/{job.submission.assignment}")
        return
    count = 0

    def line(job, row, skipped) -> None:  # noqa: ANN001
        nonlocal count
        count += 1
        what = "already graded" if skipped else row.status
        console.print(f"[{count}/{total}] {job.submission.student}/{job.submission.assignment}: {row.score:g}/{row.max_score:g} ({what})", highlight=False)

    yield line


if __name__ == "__main__":
    app()
