"""Score reports for people: the terminal summary of a pytest run, ``convgrade check`` and ``check()``.

A self-check says by default, per assignment, one line per function (checks
passed, points, and its lead failure: of its own failures, the first that names
a known mistake, else the first), then that failure in full (unless it only
follows from another function's); ``details=True`` lists every check and
explains every failure. A module that cannot be imported fails every check
alike: it is said once, with the line of the module it names. The text is
plain and wrapped at word boundaries to the terminal's width, so a check's title
is never cut (and rich, costly to import, stays out of a student's ``pytest``).

``score_table`` and ``total_line`` are the same results as rich renderables, for
commands that print with rich.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.scores import CheckResult, Scoreboard, points_text

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

_NAMED_MISTAKE = "; likely "  # how a reason names a known mistake (autograder.compare)
_LINE_OF = re.compile(r"\bline (\d+)\b")  # where a module's import failure points


def score_table(results: Sequence[CheckResult], *, title: str | None = None) -> Table:
    """One row per check: task, check, points, pass/fail, one-line reason (rich)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", expand=False)
    table.add_column("function", style="cyan", no_wrap=True)
    table.add_column("check", overflow="fold")
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("reason", overflow="fold")
    previous_task = None
    for result in results:
        verdict = Text("pass", style="green") if result.passed else Text("FAIL", style="bold red")
        table.add_row(  # Text, not str: a reason may quote the student, and rich would read markup in it
            Text(result.task if result.task != previous_task else ""),
            Text(result.check + (" (hidden)" if result.hidden else "")),
            f"{points_text(result.points)}/{points_text(result.max_points)}",
            verdict,
            Text("" if result.passed else result.reason),
        )
        previous_task = result.task
    return table


def total_line(board: Scoreboard, label: str = "total") -> Text:
    """``total: 12/20 points (7 of 11 checks pass)`` (rich)."""
    from rich.text import Text

    return Text(total_text(board, label), style="bold")


def total_text(board: Scoreboard, label: str = "total") -> str:
    """``total: 12/20 points (7 of 11 checks pass)``."""
    return f"{label}: {points_text(board.score)}/{points_text(board.max_score)} points ({board.passed} of {len(board.results)} checks pass)"


def assignments_text(boards: Mapping[str, Scoreboard], *, title: str | None = None) -> str:
    """One row per assignment: checks passed and points."""
    rows = [("assignment", "checks passed", "points")] + [
        (name, f"{board.passed}/{len(board.results)}", f"{points_text(board.score)}/{points_text(board.max_score)}")
        for name, board in boards.items()
    ]
    name_width, passed_width, points_width = (max(len(row[i]) for row in rows) for i in range(3))
    lines = [title] if title else []
    lines += [f" {name:<{name_width}}  {passed:>{passed_width}}  {points:>{points_width}}" for name, passed, points in rows]
    return "\n".join(lines) + "\n"


def report_text(
    board: Scoreboard, *, width: int = 80, details: bool = False, title: str | None = None,
    label: str = "total", notes: Sequence[str] = (), modules: Mapping[str, Path] | None = None,
) -> str:  # fmt: skip
    """A run's results as a student reads them: one assignment in full, several a row each (in full with ``details``).

    ``label`` names the total line (``visible total``) and ``notes`` follow it
    (what the hidden checks hold). ``modules``: the student's module file per
    assignment, to show the line an import failure names.
    """
    boards = board.by_assignment()
    if len(boards) == 1:
        (name, only), = boards.items()  # fmt: skip
        return (f"{title}\n" if title else "") + _assignment_text(only, width, details, label, notes, (modules or {}).get(name))
    if not details:
        return assignments_text(boards, title=title) + "\n".join([total_text(board, label), *_notes(notes, width)]) + "\n"
    parts = [_assignment_text(each, width, True, "total", (), (modules or {}).get(name)) for name, each in boards.items()]
    return "".join(f"{name}\n{part}\n" for name, part in zip(boards, parts)) + "\n".join([total_text(board, label), *_notes(notes, width)]) + "\n"


def _assignment_text(board: Scoreboard, width: int, details: bool, label: str, notes: Sequence[str], module: Path | None) -> str:
    """One assignment's results: its functions, the total, then its lead failures (every check and failure with ``details``)."""
    failure = module_failure(board.results, module.name) if module else None
    if failure is not None:
        lines = [*_wrapped(failure, width, "", "  "), *_source_line(module, failure), f"no check could run; {total_text(board, label)}", *_notes(notes, width)]
        return "\n".join(lines) + "\n"
    lines = [*function_lines(board.results, width), total_text(board, label), *_notes(notes, width)]
    if details:
        lines += every_check_lines(board.results, width)
    shown = [result for result in board.results if not result.passed] if details else lead_failures(board.results)
    for result in shown:
        if _worth_showing(result):
            lines += ["", *_wrapped(f"{result.task}: {result.check}{' (hidden)' if result.hidden else ''}", width, "── ", "   ")]
            lines.append(result.details.rstrip("\n"))
    return "\n".join(lines) + "\n"


def function_lines(results: Sequence[CheckResult], width: int) -> list[str]:
    """One line per function: checks passed, points, and its lead failure's reason (wrapped in its column)."""
    by_task: dict[str, list[CheckResult]] = {}
    for result in results:
        by_task.setdefault(result.task, []).append(result)
    rows = [("function", "checks", "points", "")]
    for task, checks in by_task.items():
        earned, worth, lead = sum(r.points for r in checks), sum(r.max_points for r in checks), _lead(checks)
        said = "pass" if lead is None else f"FAIL  {lead.reason}"
        rows.append((task, f"{sum(r.passed for r in checks)}/{len(checks)}", f"{points_text(earned)}/{points_text(worth)}", said))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for task, passed, points, said in rows:
        head = f"  {task:<{widths[0]}}  {passed:>{widths[1]}}  {points:>{widths[2]}}  "
        lines += _wrapped(said, width, head, " " * (len(head) + (6 if said.startswith("FAIL") else 0)))
    return lines


def every_check_lines(results: Sequence[CheckResult], width: int) -> list[str]:
    """Every check, under its function: pass or FAIL, points, its title, and a failure's reason."""
    lines: list[str] = []
    previous = None
    for result in results:
        if result.task != previous:
            lines += ["", result.task]
            previous = result.task
        verdict = "pass" if result.passed else "FAIL"
        head = f"  {verdict}  {points_text(result.points):>4}/{points_text(result.max_points):<3} "
        lines += _wrapped(result.check + (" (hidden)" if result.hidden else ""), width, head, " " * len(head))
        if not result.passed:
            lines += _wrapped(result.reason, width, " " * (len(head) + 2), " " * (len(head) + 2))
    return lines


def lead_failures(results: Sequence[CheckResult]) -> list[CheckResult]:
    """Each failing function's lead failure, in the order the functions ran, but those that follow from
    another function's failures (its line says which to fix first, and that one's failure is shown)."""
    tasks = list(dict.fromkeys(result.task for result in results))
    leads = (_lead([result for result in results if result.task == task]) for task in tasks)
    return [lead for lead in leads if lead is not None and not lead.follows]


def _lead(checks: Sequence[CheckResult]) -> CheckResult | None:
    """The failure to show for a function: of its own failures (else of all), the first that names a known mistake, else the first."""
    failed = [result for result in checks if not result.passed]
    own = [result for result in failed if not result.follows] or failed
    return next((result for result in own if _NAMED_MISTAKE in result.reason), own[0] if own else None)


def module_failure(results: Sequence[CheckResult], module: str) -> str | None:
    """The one reason every check failed for, when it is about the module itself (``padding.py could not be imported...``).

    A failure traced to another function (``follows``) carries a note before that reason, so only untraced ones count.
    """
    if not results or any(result.passed for result in results):
        return None
    untraced = [result for result in results if not result.follows]
    reasons = {result.reason for result in [r for r in untraced if not r.hidden] or untraced}  # a hidden check words it its own way
    if len(reasons) != 1:
        return None
    reason = reasons.pop()
    return reason if reason.startswith(f"{module} ") else None


def _source_line(module: Path, failure: str) -> list[str]:
    """The line of ``module`` that ``failure`` names, shown under it (nothing when there is none to show)."""
    found = _LINE_OF.search(failure)
    if found is None:
        return []
    try:
        source = module.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    number = int(found.group(1))
    if not 1 <= number <= len(source):
        return []
    return [f"  {module.name}, line {number}:", f"    {source[number - 1].rstrip()[:200]}"]


def _worth_showing(result: CheckResult) -> bool:
    """Whether a failure's details say more than its reason (a stub's say only that it is one)."""
    return bool(result.details.strip()) and result.details.strip() != result.reason and "not implemented yet: `" not in result.reason


def _notes(notes: Sequence[str], width: int) -> list[str]:
    """Lines after a total, each wrapped with a hanging indent."""
    return [line for note in notes for line in _wrapped(note, width, "", "  ")]


def _wrapped(text: str, width: int, first: str, later: str) -> list[str]:
    """``text`` wrapped at word boundaries after the prefixes (a word longer than a line is broken, never cut)."""
    room = max(width - len(first), 24)
    return textwrap.wrap(text, width=room + len(first), initial_indent=first, subsequent_indent=later, break_on_hyphens=False) or [first.rstrip()]


def score_table_text(board: Scoreboard, *, width: int = 100, details: bool = False, modules: Mapping[str, Path] | None = None) -> str:
    """Plain text for a terminal or a notebook cell: ``report_text`` with the plain ``total`` line."""
    return report_text(board, width=width, details=details, modules=modules)
