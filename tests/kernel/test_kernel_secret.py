"""Network secret loading and its errors, and the file mode it insists on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from risklist_kernel.errors import SecretError
from risklist_kernel.secret import (
    DEMO_SECRET_HEX,
    SECRET_FILE_ENV,
    NetworkSecret,
    load_secret,
)

KEY = bytes(range(32))


def write(tmp_path: Path, content: str | bytes, name: str = "network.secret") -> Path:
    """A secret file in tmp_path holding `content`."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="ascii")
    path.chmod(0o600)
    return path


def test_hex_file_with_newline_is_loaded(tmp_path: Path) -> None:
    """A file holding the hex key and a trailing newline gives that key."""
    assert load_secret(write(tmp_path, KEY.hex() + "\n")).key == KEY


def test_flag_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit path is used even when RISKLIST_SECRET_FILE names another file."""
    other = write(tmp_path, bytes(range(1, 33)).hex(), "other.secret")
    monkeypatch.setenv(SECRET_FILE_ENV, os.fspath(other))
    assert load_secret(write(tmp_path, KEY.hex())).key == KEY


def test_environment_variable_is_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a path, the file named by RISKLIST_SECRET_FILE is loaded."""
    monkeypatch.setenv(SECRET_FILE_ENV, os.fspath(write(tmp_path, KEY.hex())))
    assert load_secret(None).key == KEY


@pytest.mark.parametrize("value", [None, ""])
def test_no_path_and_no_environment_is_an_error(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """With neither a path nor a (non-empty) variable, the error says how to give one."""
    if value is None:
        monkeypatch.delenv(SECRET_FILE_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_FILE_ENV, value)
    with pytest.raises(SecretError, match=f"--secret-file FILE or set {SECRET_FILE_ENV}"):
        load_secret(None)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A secret path that does not exist is a SecretError naming it."""
    with pytest.raises(SecretError, match="does not exist"):
        load_secret(tmp_path / "absent.secret")


def test_missing_file_named_by_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RISKLIST_SECRET_FILE naming a missing file is the same clear error."""
    monkeypatch.setenv(SECRET_FILE_ENV, os.fspath(tmp_path / "absent.secret"))
    with pytest.raises(SecretError, match="does not exist"):
        load_secret(None)


@pytest.mark.parametrize("content", ["not hex at all", KEY.hex() + "z", KEY.hex()[:-1], ""])
def test_non_hex_content_is_an_error(tmp_path: Path, content: str) -> None:
    """Text that is not whole hex bytes is a SecretError that says how to make a secret."""
    with pytest.raises(SecretError, match="does not hold a hex secret|bytes; it needs"):
        load_secret(write(tmp_path, content))


def test_non_ascii_file_is_an_error(tmp_path: Path) -> None:
    """Binary (non-ASCII) content is a SecretError, not a UnicodeDecodeError."""
    with pytest.raises(SecretError, match="cannot read"):
        load_secret(write(tmp_path, b"\xff" * 40))


@pytest.mark.parametrize("size", [0, 16, 31, 65, 128])
def test_wrong_length_is_an_error(tmp_path: Path, size: int) -> None:
    """Fewer than 32 or more than 64 bytes is a SecretError giving the allowed range."""
    with pytest.raises(SecretError, match="it needs 32 to 64"):
        load_secret(write(tmp_path, bytes(size).hex() + "\n"))


def test_directory_is_an_error(tmp_path: Path) -> None:
    """A directory given as the secret file is a SecretError, not an OSError."""
    with pytest.raises(SecretError, match="cannot read"):
        load_secret(tmp_path)


def test_secret_never_shows_in_repr_or_errors(tmp_path: Path) -> None:
    """Neither the repr nor the fingerprint reveals the key bytes."""
    secret = NetworkSecret(KEY)
    assert KEY.hex() not in repr(secret)
    assert len(secret.fingerprint) == 16 and secret.fingerprint not in KEY.hex()


def test_demo_secret_is_marked_as_demo() -> None:
    """The demo secret is the published one and says it is a demo."""
    demo = NetworkSecret.demo()
    assert demo.is_demo and demo.key == bytes.fromhex(DEMO_SECRET_HEX)
    assert demo.fingerprint != NetworkSecret(KEY).fingerprint


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o777])
def test_a_secret_file_others_can_read_is_refused_with_the_chmod_to_run(tmp_path: Path, mode: int) -> None:
    """As ssh refuses an open private key: group or other access is refused, naming the mode and the fix."""
    path = write(tmp_path, KEY.hex())
    path.chmod(mode)
    with pytest.raises(SecretError) as refused:
        load_secret(path)
    assert f"mode {mode:04o}" in str(refused.value) and f"chmod 600 {path}" in str(refused.value)


def test_write_secret_creates_an_owner_only_file_that_loads(tmp_path: Path) -> None:
    """write_secret gives a 0600 file (also over an existing 0644 one) that load_secret accepts."""
    from risklist_kernel.secret import write_secret  # imported here: the other tests run on code without it

    path = tmp_path / "network.secret"
    path.write_text("old")
    path.chmod(0o644)
    write_secret(path, NetworkSecret(KEY))
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(path).key == KEY
