"""The ``convgrade`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from autograder.assignment import Assignment, AssignmentError, assignments_in, enclosing_assignment, find_course_root

app = typer.Typer(
    help="convgrade: an auto-graded course on convolution, and its autograder.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


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
    from autograder.release import ReleaseError, plan_release, stale_files, write_release

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
    from autograder.report import assignments_table, score_table, total_line
    from autograder.selfcheck import run_visible_checks

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


if __name__ == "__main__":
    app()
