"""Finding submissions and unpacking zips that nobody should trust."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.grading.submissions import (
    MAX_FILES,
    NO_SUBMISSION,
    Submission,
    SubmissionError,
    content_hash,
    discover,
    extract_zip,
)

MODULE = "def pad2d(x, padding):\n    return x\n"


def make_zip(path: Path, members: dict[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip holding ``members`` (name -> content); names are written exactly as given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def refused(archive: Path, target: Path, *words: str) -> str:
    """Extraction is refused with a message naming ``words``, and leaves nothing behind."""
    with pytest.raises(SubmissionError) as caught:
        extract_zip(archive, target)
    message = str(caught.value)
    assert all(word in message for word in words), message
    assert not target.exists()
    assert not list(target.parent.glob(f".{target.name}.*")), "a staging folder was left behind"
    return message


def test_a_normal_zip_is_extracted(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"padding.py": MODULE, "notes/readme.txt": "hi"})
    extract_zip(archive, tmp_path / "out")
    assert (tmp_path / "out" / "padding.py").read_text() == MODULE
    assert (tmp_path / "out" / "notes" / "readme.txt").read_text() == "hi"


def test_a_single_top_folder_is_unwrapped(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"03_padding/": b"", "03_padding/padding.py": MODULE, "__MACOSX/03_padding/._padding.py": b"x"})
    extract_zip(archive, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["padding.py"]


def test_re_extracting_replaces_the_previous_extraction(tmp_path):
    target = tmp_path / "out"
    extract_zip(make_zip(tmp_path / "a.zip", {"padding.py": MODULE, "old.py": "x"}), target)
    extract_zip(make_zip(tmp_path / "b.zip", {"padding.py": "changed"}), target)
    assert sorted(p.name for p in target.iterdir()) == ["padding.py"]
    assert (target / "padding.py").read_text() == "changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip", "out"]


@pytest.mark.parametrize("name", ["../evil.py", "/abs.py", "ok/../../evil.py", "C:/evil.py", "..\\evil.py"])
def test_zip_slip_is_refused(tmp_path, name):
    archive = make_zip(tmp_path / "a.zip", {"padding.py": MODULE, name: "import os"})
    refused(archive, tmp_path / "work" / "out", "outside its own folder")
    assert not (tmp_path / "evil.py").exists() and not Path("/abs.py").exists()


def test_a_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("padding.py", MODULE)
        link = zipfile.ZipInfo("solution.py")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "../../solutions/03_padding/padding.py")
    refused(archive, tmp_path / "out", "symbolic link")


def test_a_device_file_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        device = zipfile.ZipInfo("zero")
        device.create_system = 3
        device.external_attr = (stat.S_IFCHR | 0o666) << 16
        zf.writestr(device, "")
    refused(archive, tmp_path / "out", "special file")


def test_too_many_files_are_refused(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {f"f{i}.py": "" for i in range(MAX_FILES + 1)})
    refused(archive, tmp_path / "out", f"more than the {MAX_FILES}")


def test_an_oversized_file_is_refused(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"big.bin": b"\0" * (10 * 1024 * 1024 + 1)}, compression=zipfile.ZIP_STORED)
    refused(archive, tmp_path / "out", "big.bin", "10 MiB")


def test_a_zip_bomb_is_refused(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"bomb.bin": b"\0" * (30 * 1024 * 1024)})
    assert archive.stat().st_size < 100 * 1024
    refused(archive, tmp_path / "out", "bomb.bin")


def test_a_highly_compressed_member_under_the_caps_is_refused(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"padding.py": MODULE, "zeros.bin": b"\0" * (5 * 1024 * 1024)})
    refused(archive, tmp_path / "out", "zip bomb")


def test_a_header_that_lies_about_the_size_cannot_pass(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"liar.bin": b"\0" * (30 * 1024 * 1024)})
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("liar.bin")
    size = (30 * 1024 * 1024).to_bytes(4, "little")
    data = data.replace(size, (1000).to_bytes(4, "little"))  # local header and central directory both lie
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("liar.bin").file_size == 1000 != info.file_size
    refused(archive, tmp_path / "out")


def test_bytes_written_are_counted_whatever_the_reader_returns(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "a.zip", {"padding.py": MODULE})
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, info: io.BytesIO(b"#" * (len(MODULE) + 1)))
    refused(archive, tmp_path / "out", "more bytes than its header declares")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_text(MODULE)
    refused(archive, tmp_path / "out", "not a zip archive")


def test_a_refused_zip_leaves_the_previous_extraction_alone(tmp_path):
    target = tmp_path / "out"
    extract_zip(make_zip(tmp_path / "good.zip", {"padding.py": MODULE}), target)
    refused_zip = make_zip(tmp_path / "bad.zip", {"padding.py": "new", "../evil.py": "x"})
    with pytest.raises(SubmissionError):
        extract_zip(refused_zip, target)
    assert (target / "padding.py").read_text() == MODULE


def submitted_class(root: Path) -> Path:
    """alice: a folder for 03 and a zip for 04; bob: a bad zip for 03; carol: only 01; .mallory: 03."""
    submitted = root / "submitted"
    (submitted / "alice" / "03_padding").mkdir(parents=True)
    (submitted / "alice" / "03_padding" / "padding.py").write_text(MODULE)
    make_zip(submitted / "alice" / "04_channels.zip", {"04_channels/channels.py": "x = 1\n"})
    (submitted / "bob").mkdir()
    (submitted / "bob" / "03_padding.zip").write_text("not a zip")
    (submitted / "carol" / "01_convolution").mkdir(parents=True)
    (submitted / ".mallory" / "03_padding").mkdir(parents=True)
    (submitted / "README.txt").write_text("not a student")
    return submitted


def test_discover_lists_every_student_and_requested_assignment_in_order(tmp_path):
    submitted = submitted_class(tmp_path)
    work = tmp_path / "work"
    found = discover(submitted, ["04_channels", "03_padding"], work)
    assert [(s.student, s.assignment) for s in found] == [
        (".mallory", "03_padding"),
        ("alice", "03_padding"),
        ("alice", "04_channels"),
        ("bob", "03_padding"),
        ("bob", "04_channels"),
        ("carol", "03_padding"),
        ("carol", "04_channels"),
    ]
    by_key = {(s.student, s.assignment): s for s in found}
    assert by_key["alice", "03_padding"] == Submission("alice", "03_padding", submitted / "alice" / "03_padding", None)
    assert by_key["alice", "04_channels"] == Submission("alice", "04_channels", work / "alice" / "04_channels", None)
    assert (work / "alice" / "04_channels" / "channels.py").read_text() == "x = 1\n"
    assert by_key["bob", "03_padding"].folder is None and "not a zip archive" in by_key["bob", "03_padding"].error
    assert by_key["carol", "03_padding"].error == NO_SUBMISSION
    assert by_key[".mallory", "03_padding"].folder is None and "not a safe folder name" in by_key[".mallory", "03_padding"].error
    assert not any(s.assignment == "01_convolution" for s in found)


def test_unsafe_assignment_names_are_refused_per_student(tmp_path):
    submitted = submitted_class(tmp_path)
    found = discover(submitted, ["../03_padding"], tmp_path / "work")
    assert found and all(s.folder is None and "not a safe folder name" in s.error for s in found)


def test_discover_is_deterministic_and_re_extracts_in_place(tmp_path):
    submitted = submitted_class(tmp_path)
    first = discover(submitted, ["04_channels"], tmp_path / "work")
    make_zip(submitted / "alice" / "04_channels.zip", {"channels.py": "x = 2\n"})
    second = discover(submitted, ["04_channels"], tmp_path / "work")
    assert first == second
    assert (tmp_path / "work" / "alice" / "04_channels" / "channels.py").read_text() == "x = 2\n"


def test_content_hash_is_stable_and_ignores_caches(tmp_path):
    folder = tmp_path / "s"
    (folder / "pkg").mkdir(parents=True)
    (folder / "padding.py").write_text(MODULE)
    (folder / "pkg" / "util.py").write_text("y = 1\n")
    before = content_hash(folder)
    assert len(before) == 64 and before == content_hash(folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "padding.cpython-311.pyc").write_bytes(b"\x00cache")
    (folder / "pkg" / "util.pyc").write_bytes(b"\x00cache")
    assert content_hash(folder) == before
    copy = tmp_path / "copy"
    (copy / "pkg").mkdir(parents=True)
    (copy / "pkg" / "util.py").write_text("y = 1\n")
    (copy / "padding.py").write_text(MODULE)
    assert content_hash(copy) == before


def test_content_hash_sees_every_change(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "padding.py").write_text(MODULE)
    before = content_hash(folder)
    (folder / "padding.py").write_text(MODULE + "\n")
    edited = content_hash(folder)
    (folder / "padding.py").rename(folder / "other.py")
    renamed = content_hash(folder)
    (folder / "extra.py").write_text("")
    added = content_hash(folder)
    assert len({before, edited, renamed, added}) == 4


def test_content_hash_does_not_read_through_links(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "padding.py").write_text(MODULE)
    (folder / "zero").symlink_to("/dev/zero")
    first = content_hash(folder)  # would never finish if it read /dev/zero
    (folder / "zero").unlink()
    (folder / "zero").symlink_to("/dev/null")
    assert content_hash(folder) != first


def _hand_in(tmp_path: Path, files: dict[str, str], student: str = "ann") -> Path:
    """SUBMITTED/<student>/03_padding/ holding ``files`` (relative path -> text)."""
    submitted = tmp_path / "submitted"
    for name, text in files.items():
        path = submitted / student / "03_padding" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return submitted


def _found(tmp_path: Path, submitted: Path) -> Submission:
    (submission,) = discover(submitted, ["03_padding"], tmp_path / "work", modules={"03_padding": "padding"})
    return submission


def test_a_module_misnamed_by_case_is_graded_under_its_name_with_a_note(tmp_path):
    submission = _found(tmp_path, _hand_in(tmp_path, {"Padding.py": MODULE, "helpers.py": "X = 1\n"}))
    assert submission.error is None
    assert submission.note == "found `Padding.py`, expected `padding.py`: graded as `padding.py`"
    assert (submission.folder / "padding.py").read_text() == MODULE
    assert (submission.folder / "helpers.py").is_file(), "the other files of the hand-in come along"


def test_one_folder_level_too_many_is_looked_through(tmp_path):
    submission = _found(tmp_path, _hand_in(tmp_path, {"submission/padding.py": MODULE}))
    assert submission.error is None and submission.folder.name == "submission"
    assert "found `padding.py` in the folder `submission/`" in submission.note


@pytest.mark.parametrize(
    "files, said",
    [
        ({"padding_v2.py": MODULE, "notes.txt": ""}, "no `padding.py` in the hand-in: found `notes.txt`, `padding_v2.py` (expected `padding.py` at the top of 03_padding/)"),
        ({"03_padding.ipynb": "{}"}, "a notebook alone is not graded"),
        ({"a/padding.py": MODULE, "b/padding.py": MODULE}, "found `a/`, `b/`"),
    ],
)
def test_a_hand_in_without_its_module_is_a_bad_submission_saying_what_was_found(tmp_path, files, said):
    submission = _found(tmp_path, _hand_in(tmp_path, files))
    assert submission.folder is None and said in submission.error


def test_links_and_special_files_are_not_followed(tmp_path):
    import os

    from autograder.sandbox.call import ImportFailed, read_source

    secret = tmp_path / "solutions" / "padding.py"
    secret.parent.mkdir()
    secret.write_text("def pad2d(x, padding):\n    return 'the reference'\n")
    submitted = _hand_in(tmp_path, {"README.txt": ""})
    (submitted / "ann" / "03_padding" / "padding.py").symlink_to(secret)
    assert _found(tmp_path, submitted).folder is None, "a link to someone else's module is not the student's module"
    with pytest.raises(ImportFailed, match="is a symbolic link"):
        read_source(submitted / "ann" / "03_padding" / "padding.py")
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    with pytest.raises(ImportFailed, match="not a regular file"):
        read_source(fifo)  # and it does not hang
    (submitted / "eve").symlink_to(submitted / "ann", target_is_directory=True)
    by_student = {s.student: s for s in discover(submitted, ["03_padding"], tmp_path / "work2", modules={"03_padding": "padding"})}
    assert "is a symbolic link" in by_student["eve"].error


def test_a_zip_that_is_a_pipe_is_refused_without_hanging(tmp_path):
    import os

    submitted = tmp_path / "submitted"
    (submitted / "ann").mkdir(parents=True)
    os.mkfifo(submitted / "ann" / "03_padding.zip")
    (submission,) = discover(submitted, ["03_padding"], tmp_path / "work")
    assert submission.folder is None and "not a regular file" in submission.error


@pytest.mark.parametrize(
    "text, ids",
    [
        ("student_id,name\nann,Ann\nbob,Bob\n", ["ann", "bob"]),
        ("Name,Login\nAnn,ann\n\nBob,bob\nAnn,ann\n", ["ann", "bob"]),
        ("ann\nbob\n", ["ann", "bob"]),
    ],
)
def test_a_roster_gives_its_student_ids(tmp_path, text, ids):
    from autograder.grading.submissions import read_roster

    (tmp_path / "roster.csv").write_text(text)
    assert read_roster(tmp_path / "roster.csv") == ids


def test_a_roster_with_an_unsafe_id_is_refused_and_a_roster_student_without_a_folder_is_missing(tmp_path):
    from autograder.grading.submissions import read_roster

    (tmp_path / "roster.csv").write_text("student_id\n../etc\n")
    with pytest.raises(SubmissionError, match="not a student id"):
        read_roster(tmp_path / "roster.csv")
    (tmp_path / "submitted" / "ann").mkdir(parents=True)
    found = discover(tmp_path / "submitted", ["03_padding"], tmp_path / "work", roster=["ann", "zed"])
    assert [(s.student, s.error) for s in found] == [("ann", NO_SUBMISSION), ("zed", NO_SUBMISSION)]
