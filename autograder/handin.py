"""What a hand-in holds, and how the grader checks it: the module's API, its files, its manifest.

``convgrade release`` records the functions the student's module must define, with
their signatures, in the released ``assignment.toml`` (``[api]``, read from the stub
by ``api_of``), so that ``convgrade submit`` can refuse a module the checks could not
call. ``convgrade submit`` then packs ``<assignment>-<student>.zip`` (``write_handin``):
the module, the helper modules beside it that it imports (``helper_modules``), the
notebook, and ``manifest.json``: each file's sha256, the convgrade version, the
hand-in time in UTC and the student id. The grader checks a hand-in that holds a
manifest (``check_manifest``, the files read by ``autograder.grading.submissions``): a
file changed, added or removed since is named, never passed over, and the manifest's time, the student's own word, counts only while the
files are the ones it describes. No torch, no pytest: the grader's parent reads this.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import autograder
from autograder.atomic import atomic_write_bytes
from autograder.course import CourseError, parse_time

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
NOT_HANDED_IN = {MANIFEST, "timestamp.txt"}  # files beside a hand-in that it never held: its manifest, nbgrader's collection time
SKIPPED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX"}  # caches and the Finder's forks: not part of a hand-in
MAX_MANIFEST_BYTES = 64 * 1024
MAX_NAMED = 5  # files named per kind of problem; more are counted


# -- the module's API, recorded at release -----------------------------------


def signature_text(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """A function's parameters as written, annotations left out: ``(input, padding, mode='zeros', value=0.0)``."""
    arguments = copy.deepcopy(function.args)
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]:
        if argument is not None:
            argument.annotation = None
    return f"({ast.unparse(arguments)})"


def defined_functions(source: str) -> dict[str, str]:
    """The functions a module's source defines at its top level, by name, with their ``signature_text``."""
    tree = ast.parse(source)
    return {node.name: signature_text(node) for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def api_of(source: str) -> dict[str, str]:
    """What a module offers its users, by name, with signatures: the names of its ``__all__`` (else its public functions).

    A name of ``__all__`` that is no function of the module gets an empty signature: it must exist, nothing more.
    """
    functions = defined_functions(source)
    exported = _exported(ast.parse(source))
    if exported is None:
        return {name: signature for name, signature in functions.items() if not name.startswith("_")}
    return {name: functions.get(name, "") for name in exported}


def _exported(tree: ast.Module) -> list[str] | None:
    """The names a module's literal ``__all__`` lists, or None without one."""
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets) and node.value is not None:
            try:
                return [str(name) for name in ast.literal_eval(node.value)]
            except ValueError:
                return None
    return None


# -- what a hand-in holds ---------------------------------------------------


def helper_modules(module_file: Path) -> list[Path]:
    """The ``.py`` files beside ``module_file`` that it imports, and those they import, in name order.

    Only these travel with the module: the grader's sandbox imports helper modules
    from the module's folder, and nothing else of a student's folder is graded.
    """
    folder, found, todo = module_file.parent, set(), [module_file]
    while todo:
        try:
            tree = ast.parse(todo.pop().read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for name in _imported_names(tree):
            helper = folder / f"{name}.py"
            if helper != module_file and helper not in found and helper.is_file() and not helper.is_symlink():
                found.add(helper)
                todo.append(helper)
    return sorted(found)


def _imported_names(tree: ast.AST) -> set[str]:
    """The top-level module names a source imports absolutely (``import a.b`` and ``from a import b`` give ``a``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


# -- the manifest: written by `convgrade submit`, checked by the grader --------


def utc_text(moment: datetime) -> str:
    """A time as the manifest writes it: ISO 8601 in UTC, to the second (``2026-12-01T10:00:00Z``)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_handin(
    archive: Path, folder: Path, files: Sequence[Path], *, assignment: str, student: str, student_from: str, now: datetime
) -> dict:
    """Write ``archive``: ``files`` (under ``folder``) and their manifest, all in a folder named ``assignment``; the manifest.

    The zip is written whole or not at all (``atomic_write_bytes``): a half-written
    hand-in is never left where a student could send it.
    """
    contents = {path.relative_to(folder).as_posix(): path.read_bytes() for path in files}
    manifest = {
        "format": MANIFEST_FORMAT,
        "assignment": assignment,
        "student": student,
        "student_from": student_from,
        "handed_in": utc_text(now),
        "convgrade": autograder.__version__,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()},
    }
    contents[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    stamp = now.astimezone(timezone.utc).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            info = zipfile.ZipInfo(f"{assignment}/{name}", date_time=stamp)
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    atomic_write_bytes(archive, buffer.getvalue(), mode=0o644)
    return manifest


@dataclass(frozen=True)
class Checked:
    """What a hand-in's manifest says of it: what differs (nothing: the files are those submitted), and when it was made."""

    problems: tuple[str, ...] = ()
    handed_in: datetime | None = None  # the student's own word; None when the files are not the ones it describes

    def note(self) -> str | None:
        """The problems in one sentence for the feedback and results.json, or None when there are none."""
        if not self.problems:
            return None
        return f"{'; '.join(self.problems)} (checked against its {MANIFEST}: graded as handed in, and flagged for a look)"


def check_manifest(manifest: bytes | None, files: Mapping[str, str | None], student: str) -> Checked:
    """A hand-in checked against its manifest: the manifest's bytes (None: no readable file), the sha256 of each
    file by relative path (``handed_in_files``; None: not a regular file), the student whose hand-in it is.

    The grader reads each file without following links; nothing named in the manifest is opened.
    """
    try:
        expected, named, stamp = _parsed(manifest)
    except ValueError as exc:
        return Checked((f"its {MANIFEST} cannot be read ({exc}), so it could not be checked",))
    found = {name: digest or "not a regular file" for name, digest in files.items()}
    changed = [name for name in sorted(expected) if name in found and found[name] != expected[name]]
    added = sorted(set(found) - set(expected))
    removed = sorted(set(expected) - set(found))
    problems = [f"{what} after submit: {_names(names)}" for what, names in (("modified", changed), ("added", added), ("removed", removed)) if names]
    if named != student:
        problems.append(f"its {MANIFEST} names the student `{_shown(named)}`")
    try:
        handed_in = parse_time(stamp) if not (changed or added or removed) else None
    except CourseError:
        problems.append(f"its {MANIFEST} gives no hand-in time that reads as one ({_shown(stamp[:40])})")
        handed_in = None
    return Checked(tuple(problems), handed_in)


def _parsed(data: bytes | None) -> tuple[dict[str, str], str, str]:
    """The manifest's file hashes by relative path, its student and its hand-in time (``ValueError`` saying what is wrong)."""
    if data is None:
        raise ValueError(f"not a regular file of at most {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ValueError('no "files" table of sha256 hashes')
    student, stamp = manifest.get("student"), manifest.get("handed_in")
    if not isinstance(student, str) or not isinstance(stamp, str):
        raise ValueError('no "student" or no "handed_in"')
    return files, student, stamp


def handed_in_files(folder: Path) -> list[tuple[str, Path]]:
    """Every file under ``folder`` that a hand-in holds, by relative path: caches, hidden files and the manifest left out.

    Links are listed, never followed (a link to a folder is not walked into).
    """
    found = []
    for root, dirs, files in os.walk(folder):
        linked = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = [d for d in dirs if d not in linked and d not in SKIPPED_FOLDERS and not d.startswith(".")]
        for name in files + linked:
            relative = Path(root, name).relative_to(folder).as_posix()
            if relative not in NOT_HANDED_IN and not name.startswith(".") and not name.endswith(".pyc"):
                found.append((relative, Path(root, name)))
    return sorted(found)


def _names(names: list[str]) -> str:
    """``a.py, b.py`` and, past ``MAX_NAMED``, how many more."""
    shown = ", ".join(_shown(name) for name in names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


def _shown(text: str) -> str:
    """A name the student chose, as a note can carry it: control characters escaped, at most 100 characters."""
    return (text if text.isprintable() else text.encode("unicode_escape").decode("ascii"))[:100]
