"""The ``convgrade`` command."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.text import Text

from autograder import settings
from autograder.assignment import Assignment, AssignmentError, assignments_in, check_forbidden, enclosing_assignment, find_course_root

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
    """The assignment folder a command works on: ``--path``; else the named one, first the one we are in
    (a standalone copy too), then the course's ``assignments/NAME``, then ``./NAME``; else the one we are in."""
    if path is not None:
        return path
    here = enclosing_assignment(Path.cwd())
    if assignment is None:
        if here is None:
            raise fail("name an assignment (e.g. `convgrade check 03_padding`) or run this inside its folder")
        return here.folder
    if here is not None and here.name == assignment:
        return here.folder
    root = find_course_root()
    candidates = [*([root / "assignments" / assignment] if root else []), Path(assignment)]
    folder = next((each for each in candidates if each.is_dir()), None)
    if folder is None:
        inside = f"; this folder is the assignment {here.name!r}" if here is not None else ""
        raise fail(f"no assignment {assignment!r} here: looked for {', '.join(map(str, candidates))}{inside}")
    return folder


@app.command()
def check(
    assignment: Annotated[Optional[str], typer.Argument(help="the assignment, e.g. 03_padding")] = None,
    path: Annotated[
        Optional[Path],
        typer.Option(help="the folder to check: an assignment folder, or a folder of them (default: assignments/ASSIGNMENT)"),
    ] = None,
    details: Annotated[bool, typer.Option("--details", help="list every check and explain every failure in full (default: a line per function and its first failure)")] = False,
) -> None:
    """Run the visible checks of an assignment against the module in its folder."""
    from autograder.checks.rubric import hidden_summary
    from autograder.checks.run import run_visible_checks_of
    from autograder.checks.tables import report_text
    from autograder.scores import Scoreboard

    folder = _resolve_folder(assignment, path)
    try:
        single = (folder / "assignment.toml").is_file()
        folders = [folder] if single else [a.folder for a in assignments_in(folder)]
        check_forbidden([Assignment.load(each) for each in folders], here=True)
    except AssignmentError as exc:
        raise fail(str(exc)) from None
    if not folders:
        raise fail(f"{folder} holds no assignment (no assignment.toml in it or its subfolders)")
    runs = run_visible_checks_of(folders)
    for run in runs:
        if not run.board.results:
            errors.print(run.pytest_output)
            raise fail(f"no check ran in {run.assignment.folder}: see pytest's output above")
    first = runs[0].assignment
    title = f"{first.name}: {first.title}" if single else f"visible checks in {folder}"
    notes = [hidden] if single and (hidden := hidden_summary(first, runs[0].board)) else []
    board = Scoreboard([result for run in runs for result in run.board.results])
    modules = {run.assignment.name: run.assignment.module_file for run in runs}
    report = report_text(board, width=console.width, details=details, title=title, label="visible total", notes=notes, modules=modules)
    console.out(report, end="", highlight=False)
    all_passed = all(r.passed for run in runs for r in run.board.results)
    raise typer.Exit(code=0 if all_passed else 1)


@app.command()
def submit(
    assignment: Annotated[Optional[str], typer.Argument(help="the assignment, e.g. 03_padding (default: the one whose folder you are in)")] = None,
    student: Annotated[Optional[str], typer.Option(help="your student id (default: $JUPYTERHUB_USER, else your user name here, as nbgrader's exchange does)")] = None,
    out: Annotated[Path, typer.Option(help="the folder the zip goes into")] = Path("."),
    zip_: Annotated[bool, typer.Option("--zip", help="write the zip even where the course takes hand-ins through nbgrader's exchange")] = False,
) -> None:
    """Check your assignment as the grader will read it, then pack it to hand in: ASSIGNMENT-<student>.zip with its manifest."""
    from autograder.submit import Refused, checked_folder, forbidden_calls, nbgrader_exchange, nbgrader_submit, pack

    folder = _resolve_folder(assignment, None)
    try:
        released, who, whence = checked_folder(folder, student)
    except (AssignmentError, Refused) as exc:
        raise fail(f"not handed in: {exc}") from None
    defines = f"defines {', '.join(released.api)} as released" if released.api else "(its release records no functions to check: no [api])"
    console.print(f"{released.module}.py imports and {defines}", highlight=False)
    from autograder.checks.run import run_visible_checks  # pytest, once the module is known to be one the checks can call
    from autograder.checks.tables import score_table, total_line

    run = run_visible_checks(folder)
    console.print(score_table(run.board.results, title=f"{released.name}: {released.title}"))
    console.print(total_line(run.board, "visible total"))
    for line in forbidden_calls(run.board):
        errors.print(Text.assemble(("warning: ", "yellow"), f"{line} (the grader refuses it too)"))
    if (exchange := None if zip_ else nbgrader_exchange(folder)) is not None:
        console.print(f"this course takes hand-ins through nbgrader's exchange (course {exchange.course}): handing over to `nbgrader submit`", highlight=False)
        if (code := nbgrader_submit(exchange.command(folder, student), exchange.where)) is None:
            console.print(f"nbgrader is not installed here, so nothing is handed in yet: in {exchange.where}, run\n  {exchange.shown(folder, student)}", highlight=False)
        elif code != 0:
            raise fail(f"`{exchange.shown(folder, student)}` failed (exit {code}): nbgrader says why above")
        return
    archive, manifest = pack(released, who, whence, out)
    console.print(f"wrote {archive} ({', '.join(manifest['files'])}, manifest.json), handed in by {who} (from {whence}) at {manifest['handed_in']}", highlight=False)
    console.print("hand in this zip unchanged, where your course asks: the grader checks every file against its manifest", highlight=False)


@app.command()
def grade(
    submitted: Annotated[Path, typer.Argument(help="the class's submissions: SUBMITTED/<student>/<assignment>/ or <assignment>.zip; or a Canvas or Moodle download (its zip or folder) of one assignment")],
    assignment: Annotated[Optional[list[str]], typer.Option("--assignment", "-a", help="grade only this assignment (repeatable; default: every assignment in source/)")] = None,
    out: Annotated[Path, typer.Option(help="where results, feedback and grades.csv go")] = Path("out"),
    processes: Annotated[int, typer.Option("--processes", "-j", min=1, help="grading processes, each with a sandbox of its own")] = max(1, min(settings.GRADING_PROCESSES, os.cpu_count() or 1)),
    cluster: Annotated[Optional[str], typer.Option(help="grade on a dask cluster instead: a scheduler's address (tcp://host:8786), or local[:N] for N worker processes here (default N: the cores)")] = None,
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
    from autograder.grading.progress import progress
    from autograder.grading.results import GRADES_CSV, write_grades_csv
    from autograder.course import Course, CourseError, read_extensions, read_times
    from autograder.grading.late import with_late_policy
    from autograder.grading.lms import is_download, lay_out_download
    from autograder.grading.secret import default_path
    from autograder.grading.submissions import SubmissionError
    from autograder.grading.table import class_table

    root = _course_root(root)
    source = root / "source"
    if not source.is_dir():
        raise fail(f"{root} has no source/ folder: the grader runs the instructor's tests from there")
    known = [a.name for a in assignments_in(source)]
    unknown = [name for name in assignment or [] if name not in known]
    if unknown:
        raise fail(f"unknown assignment {', '.join(unknown)}; source/ has {', '.join(known)}")
    if not submitted.is_dir() and not is_download(submitted):
        raise fail(f"{submitted} is not a folder of submissions")
    url = _gradebook_url(gradebook) if gradebook else None
    elsewhere = _on_cluster(cluster) if cluster else None
    course_secret = _course_secret(secret or default_path(root))
    try:
        course = Course.load(root)
        check_forbidden([a for a in assignments_in(source) if a.name in (assignment or known)])
        granted = read_extensions(extensions) if extensions else {}
        students_of_roster = _roster(roster) if roster else []
        if download := lay_out_download(submitted, assignment or [], source, out, roster) if is_download(submitted) else None:
            submitted, assignment = download.submitted, [download.assignment]
            console.print(f"a {download.kind.capitalize()} download of {download.assignment}, laid out in {submitted}", highlight=False)
            for line in download.warnings:
                errors.print(f"[yellow]warning:[/] {line}", highlight=False)
        jobs = plan(
            submitted, source, assignment or known, out, call_timeout=timeout, budget=settings.SUBMISSION_BUDGET,
            students=student, roster=students_of_roster, times=read_times(times) if times else {}, secret=course_secret,
        )  # fmt: skip
    except (SubmissionError, CourseError, AssignmentError) as exc:
        raise fail(str(exc)) from None
    if download is not None:
        jobs = download.annotate(jobs)
    if not jobs:
        whose = f" by {', '.join(student)}" if student else ""
        raise fail(f"{submitted} holds no submission of {', '.join(assignment or known)}{whose}")
    with progress(console, len(jobs)) as advance:
        rows = grade_all(jobs, processes=processes, call_timeout=timeout, regrade=regrade, progress=advance, elsewhere=elsewhere)
    in_source = {a.name: a for a in assignments_in(source)}
    grades, undecided = with_late_policy(
        class_grades(out, jobs, rows), {name: a.due for name, a in in_source.items()}, course.late, granted,
        flagged_late=download.late if download is not None else (),
    )
    weights = {name: a.weight for name, a in in_source.items()}
    write_grades_csv(out / GRADES_CSV, [{**asdict(row), "weight": f"{weights[row.assignment]:g}" if row.assignment in weights else ""} for row in grades])
    console.print(class_table(grades, weights))
    for line in undecided:
        errors.print(f"[yellow]warning:[/] {line}", highlight=False)
    for job in jobs:  # a hand-in that differs from its manifest: graded as handed in, never passed over
        if job.submission.flags:
            errors.print(Text.assemble(("warning: ", "yellow"), f"{'/'.join(job.key)}: {'; '.join(job.submission.flags)} (graded as handed in)"))
    if class_page:
        from autograder.grading.class_page import write_class_page

        console.print(f"the class at a glance: {write_class_page(out, grades)}", highlight=False)
    console.print(f"grades: {out / GRADES_CSV}; results and feedback: {out}/<student>/<assignment>/")
    if url:
        _record_in_gradebook(url, root, out)


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="the new assignment's folder in source/, e.g. 11_example")],
    module: Annotated[str, typer.Option(help="the module students edit, without .py (e.g. example)")],
    notebook: Annotated[bool, typer.Option("--notebook", help="also write an nbgrader notebook whose graded cells run the checks")] = False,
    root: Annotated[Optional[Path], typer.Option(help="the course folder, holding source/ (default: found from here)")] = None,
) -> None:
    """Scaffold a working assignment in source/NAME: a module with one function, a visible and a hidden check, assignment.toml."""
    from autograder.scaffold import ScaffoldError, new_assignment

    root = root or find_course_root() or Path.cwd()
    try:
        written = new_assignment(root / "source", name, module, notebook=notebook)
    except ScaffoldError as exc:
        raise fail(str(exc)) from None
    console.print("\n".join(["wrote", *(f"  {path.relative_to(root)}" for path in written)]), highlight=False)
    console.print(f"next: `convgrade release`, then `convgrade check {name} --path solutions` (README: Authoring an assignment)", highlight=False)


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


@app.command()
def export(
    to: Annotated[str, typer.Option("--to", help="canvas, moodle, csv (one row per student, with the weighted total) or nbgrader")],
    out: Annotated[Optional[Path], typer.Option("--out", help="the file to write (default: grades-<to>.csv here; nbgrader: ROOT/gradebook.db)")] = None,
    results: Annotated[Path, typer.Option("--from", help="the OUT folder of `convgrade grade`, holding grades.csv")] = Path("out"),
    roster: Annotated[Optional[Path], typer.Option(help="a CSV of student_id and the ids the LMS knows: name, lms_id, sis_user_id, sis_login_id, section, email, idnumber, username")] = None,
    id_column: Annotated[str, typer.Option(help="Moodle: the roster's column that identifies users: email, idnumber or username")] = "email",
    feedback: Annotated[bool, typer.Option("--feedback", help="Moodle: a feedback column per assignment (status, late penalty)")] = False,
    canvas_id: Annotated[Optional[list[str]], typer.Option(help="Canvas: ASSIGNMENT=ID, Canvas's id of the assignment (repeatable; without one Canvas matches by title)")] = None,
    root: Annotated[Optional[Path], typer.Option(help="nbgrader: the course folder, holding source/ (default: found from here)")] = None,
) -> None:
    """Export the grades of record (OUT/grades.csv) as Canvas, Moodle, a wide CSV or nbgrader's gradebook imports them."""
    from autograder.atomic import atomic_write_text
    from autograder.grading.export import ExportError, export_text

    if to == "nbgrader":
        course = _course_root(root)
        _record_in_gradebook(_gradebook_url(str(out or course / "gradebook.db")), course, results)
        return
    try:
        text, warnings, summary = export_text(to, results, roster, id_column=id_column, feedback=feedback, canvas_ids=canvas_id or [])
    except ExportError as exc:
        raise fail(str(exc)) from None
    atomic_write_text(target := out or Path(f"grades-{to}.csv"), text)
    for line in warnings:
        errors.print(f"[yellow]warning:[/] {line}", highlight=False)
    console.print(f"wrote {target}: {summary}", highlight=False)


def _on_cluster(cluster: str) -> Callable[..., None]:
    """What grades on the dask cluster of --cluster: a value that is not one, or a cluster that cannot be reached, said in one sentence."""
    from autograder.grading.cluster import ClusterError, on_cluster

    def elsewhere(*args: Any) -> None:
        try:
            grader(*args)
        except ClusterError as exc:
            raise fail(str(exc)) from None

    try:
        grader = on_cluster(cluster)
    except ClusterError as exc:
        raise fail(str(exc)) from None
    return elsewhere


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


if __name__ == "__main__":
    app()
