"""The class at a glance: ``OUT/class.html``, written after every ``convgrade grade``.

From ``grades.csv``'s rows and every submission's ``results.json``: the score
distribution of each assignment and the pass rate of each check (figures drawn
with matplotlib, inline as PNG, so the page is one file), the known mistakes the
feedback named most often per assignment, and the students who need attention
(missing, late, bad submission, grader error, flagged for review by the static scan).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from autograder.atomic import atomic_write_text
from autograder.grading.results import RESULTS_JSON, environment
from autograder.scores import GradeRow, Status

CLASS_PAGE = "class.html"
NAMED = re.compile(r"; likely ([^:;\n]+)")  # how a failure's headline names a known mistake


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot, imported on first use (the grading parent starts without it)
    """matplotlib's pyplot, drawing off screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _image(figure: object) -> str:
    """A matplotlib figure as an inline PNG image (then closed): the page stays one small file."""
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    title = figure.axes[0].get_title() if figure.axes else "figure"  # type: ignore[attr-defined]
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _scores_figure(rows: Sequence[GradeRow], assignments: list[str]) -> str:
    """One box per assignment: the class's scores, in percent of its points."""
    figure, axes = _pyplot().subplots(figsize=(max(4, 1.1 * len(assignments)), 3))
    data = [[100 * row.score / row.max_score for row in rows if row.assignment == name and row.max_score > 0] for name in assignments]
    axes.boxplot(data, showmeans=True)
    axes.set_xticks(range(1, len(assignments) + 1), [name.split("_")[0] for name in assignments])
    axes.set_ylabel("score (%)")
    axes.set_ylim(-5, 105)
    axes.set_title("scores per assignment")
    return _image(figure)


def _bars_figure(labels: list[str], values: list[float], title: str, xlabel: str, percent: bool = False) -> str:
    """A horizontal bar chart, the first label at the top; a long label cut short with an ellipsis, percentages on 0-100."""
    from matplotlib.ticker import MaxNLocator

    figure, axes = _pyplot().subplots(figsize=(7, 0.3 * len(labels) + 1))
    axes.barh([label if len(label) <= 70 else label[:69] + "\u2026" for label in labels[::-1]], values[::-1])
    if percent:
        axes.set_xlim(0, 100)
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    return _image(figure)


def _results(out: Path, rows: Sequence[GradeRow]) -> dict[str, list[dict]]:
    """Every graded submission's tests, by assignment."""
    found: dict[str, list[dict]] = {}
    for row in rows:
        path = out / row.student_id / row.assignment / RESULTS_JSON
        if row.status in (Status.GRADED, Status.LATE) and path.is_file():
            try:
                found.setdefault(row.assignment, []).append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
    return found


def class_page(out: Path, rows: Sequence[GradeRow]) -> str:
    """``class.html`` for these rows, rendered but not written."""
    assignments = sorted({row.assignment for row in rows})
    results = _results(out, rows)
    sections = []
    for name in assignments:
        submissions = results.get(name, [])
        passed: Counter[str] = Counter()
        named: Counter[str] = Counter()
        for submission in submissions:
            mistakes = set()
            for test in submission.get("tests", []):
                passed[test["name"]] += test.get("status") == "passed"
                mistakes.update(match.strip() for match in NAMED.findall(test.get("output", "")))
            named.update(mistakes)  # a mistake counts once per student
        checks = sorted(passed, key=lambda check: passed[check])
        rates = [100 * passed[check] / len(submissions) for check in checks] if submissions else []
        hardest = checks[:12]
        sections.append({
            "name": name,
            "submissions": len(submissions),
            "hardest": _bars_figure(hardest, rates[:12], f"{name}: the checks passed least", "students passing (%)", percent=True) if hardest else "",
            "checks": [(check, rate) for check, rate in zip(checks, rates)],
            "mistakes": _bars_figure(list(dict(named.most_common(8))), [float(n) for _, n in named.most_common(8)], f"{name}: mistakes named", "students") if named else "",
        })  # fmt: skip
    attention = [row for row in rows if row.status not in (Status.GRADED,) or row.review]  # flagged by the scan: a look, not a score
    context = {"scores": _scores_figure(rows, assignments) if assignments else "", "sections": sections, "attention": attention, "students": len({r.student_id for r in rows})}
    return environment().get_template(f"{CLASS_PAGE}.j2").render(context)


def write_class_page(out: Path, rows: Sequence[GradeRow]) -> Path:
    """Write ``OUT/class.html`` atomically; its path."""
    path = Path(out) / CLASS_PAGE
    atomic_write_text(path, class_page(Path(out), rows))
    return path
