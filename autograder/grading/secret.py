"""The course secret: what makes each student's hidden inputs their own, and unguessable.

Hidden checks would be learnable if their inputs were the same for everyone and
every run: a student could make failing submissions report the inputs, then hand
in a table of answers. So the inputs of a submission's hidden checks derive from
a salt, ``HMAC-SHA256(secret, assignment, student id)`` (``hidden_salt``): the
seeds of ``autograder.inputs.randn`` and of every hidden property test mix it in.
The same student, secret and code give the same grade; another student, or a
new secret, gives other inputs, and a table learned from one fails the next.

The secret is 32 random bytes (``secrets.token_hex``), written once, the first
time ``convgrade grade`` runs, to ``<course>/.convgrade/secret`` (``default_path``),
readable by its owner alone. It lives beside ``source/``, never in
``assignments/`` or anything a release copies, and the sandbox sees no part of
the course. Only the parent of ``convgrade grade`` reads it: the grading
processes get each submission's salt, and the grading key only its
``fingerprint``, so a new secret regrades every submission. Keep it (a lost
secret means new hidden inputs, and grades that may change on a regrade), and
keep it private (who has it can work out any student's hidden inputs).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_ENV = "CONVGRADE_SECRET_FILE"  # where the secret is, over the course's default (tests point it elsewhere)
FOLDER = ".convgrade"  # in the course folder; `convgrade release` copies only source/ to assignments/ and solutions/
NAME = "secret"
MIN_HEX_DIGITS = 32  # a secret of fewer than 128 bits is refused


class SecretError(Exception):
    """A secret file that cannot be read or is not a secret; one sentence for people."""


def default_path(root: Path) -> Path:
    """Where the course's secret lives: ``$CONVGRADE_SECRET_FILE``, else ``<course>/.convgrade/secret``."""
    chosen = os.environ.get(SECRET_ENV)
    return Path(chosen) if chosen else root / FOLDER / NAME


def load_secret(path: Path) -> tuple[bytes, bool]:
    """The secret in ``path``, created there first if there is none; and whether this call created it."""
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # another run made it meanwhile: that one is the secret
        return _read(path), False
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(32) + "\n")
        file.flush()
        os.fsync(file.fileno())
    return _read(path), True


def _read(path: Path) -> bytes:
    """The secret's hex digits, checked; a missing file raises ``FileNotFoundError``."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"the course secret {path} cannot be read ({exc}).") from None
    if len(text) < MIN_HEX_DIGITS or any(char not in "0123456789abcdefABCDEF" for char in text):
        raise SecretError(
            f"{path} is not a course secret (at least {MIN_HEX_DIGITS} hex digits); restore it, or delete it to make a new one (every submission is then graded again, on new hidden inputs)."
        )
    return text.lower().encode("ascii")


def fingerprint(secret: bytes) -> str:
    """A short hash that tells secrets apart and reveals nothing of one: for the grading key."""
    return hashlib.sha256(b"convgrade secret fingerprint\0" + secret).hexdigest()[:16]


def hidden_salt(secret: bytes, assignment: str, student: str) -> str:
    """The salt of one submission's hidden inputs: ``HMAC-SHA256(secret, assignment NUL student)``, in hex."""
    return hmac.new(secret, f"{assignment}\0{student}".encode(), hashlib.sha256).hexdigest()
