"""--cluster-ca, --cluster-cert/--cluster-key and --cluster-nkey, checked before the node forks: each bad file or
combination is one ConfigError naming the flag and what to give, and a seed's content is never quoted."""

from __future__ import annotations

from pathlib import Path

import nkeys
import pytest

from risklist_server.cli.certs import issue
from risklist_server.cluster.nats_auth import NO_AUTH, nats_auth
from risklist_server.core.errors import ConfigError
from tools.local_nats import write_nkey_seed


@pytest.fixture()
def certs(tmp_path: Path) -> Path:
    """A CA, a server certificate and a node's client certificate (risklist-admin certs)."""
    issue(tmp_path / "certs", ["node"])
    return tmp_path / "certs"


def _error(**files: str) -> str:
    with pytest.raises(ConfigError) as refused:
        nats_auth(**files)
    return str(refused.value)


def test_good_files_make_mutual_tls_with_an_nkey_whose_public_key_is_logged(certs: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The files are kept as absolute paths; the start line names the nkey's public key and the kind of TLS."""
    public = write_nkey_seed(tmp_path / "node.nk")
    monkeypatch.chdir(tmp_path)
    auth = nats_auth(ca="certs/ca.pem", cert="certs/node.pem", key="certs/node.key", nkey="node.nk")
    assert auth.ca == str(certs / "ca.pem") and auth.nkey_seed == str(tmp_path / "node.nk")
    assert auth.describe() == {"cluster_tls": "mutual", "cluster_nkey": public}
    options = auth.connect_options()
    assert options["nkeys_seed"] == str(tmp_path / "node.nk") and options["tls"] is not None


def test_without_flags_the_connection_is_plaintext_without_credentials() -> None:
    """No flag: nats-py's defaults, and the start line says TLS is off."""
    assert nats_auth() == NO_AUTH
    assert NO_AUTH.connect_options() == {} and NO_AUTH.describe() == {"cluster_tls": "off"}


def test_a_client_certificate_needs_its_key_and_the_ca(certs: Path) -> None:
    """--cluster-cert without --cluster-key, or without --cluster-ca, says what to add."""
    assert "--cluster-cert and --cluster-key go together" in _error(ca=str(certs / "ca.pem"),
                                                                    cert=str(certs / "node.pem"))
    assert "--cluster-cert needs --cluster-ca" in _error(cert=str(certs / "node.pem"), key=str(certs / "node.key"))


def test_an_unreadable_file_names_its_flag(tmp_path: Path) -> None:
    """A missing file is named with its flag and why."""
    missing = tmp_path / "absent.pem"
    assert _error(ca=str(missing)) == f"--cluster-ca {missing}: cannot read it (No such file or directory); give a " \
                                      "readable file"


def test_a_ca_that_is_no_certificate_and_a_key_of_another_certificate_are_refused(certs: Path, tmp_path: Path) -> None:
    """--cluster-ca must hold PEM certificates; --cluster-key must be --cluster-cert's key."""
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert f"--cluster-ca {tmp_path / 'junk.pem'}: not a PEM CA certificate" in _error(ca=str(tmp_path / "junk.pem"))
    mismatch = _error(ca=str(certs / "ca.pem"), cert=str(certs / "node.pem"), key=str(certs / "server.key"))
    assert "KEY_VALUES_MISMATCH" in mismatch and "give the node's client certificate and the key" in mismatch


@pytest.mark.parametrize("content", [
    b"SUNOTAREALSEEDATALLBUTITLOOKSLIKEONEFROMAFARAWAYPLACE\n",
    nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_ACCOUNT) + b"\n",  # an account's seed, not a user's
    b"hunter2\n",
])
def test_a_file_that_holds_no_user_seed_is_refused_without_quoting_it(tmp_path: Path, content: bytes) -> None:
    """--cluster-nkey must hold an nkey user seed; the message never repeats what the file holds."""
    (tmp_path / "seed.nk").write_bytes(content)
    (tmp_path / "seed.nk").chmod(0o600)
    message = _error(nkey=str(tmp_path / "seed.nk"))
    assert message.startswith(f"--cluster-nkey {tmp_path / 'seed.nk'}: not an nkey user seed")
    assert content.strip().decode() not in message


def test_a_seed_others_can_read_is_refused_like_the_network_secret(tmp_path: Path) -> None:
    """A seed file readable by group or others is refused, saying to chmod 600 it."""
    write_nkey_seed(tmp_path / "node.nk")
    (tmp_path / "node.nk").chmod(0o644)
    assert _error(nkey=str(tmp_path / "node.nk")) == (
        f"--cluster-nkey {tmp_path / 'node.nk'} is accessible by group or others (mode 0644); an nkey seed must be "
        f"readable by its owner only: run chmod 600 {tmp_path / 'node.nk'}")
