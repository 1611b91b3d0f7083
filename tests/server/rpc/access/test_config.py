"""The access files read once at start: certificates, key and partners, each checked with the file named on failure."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from risklist_server.core.errors import ConfigError
from risklist_server.core.partners import Role
from risklist_server.rpc.access.config import INSECURE_DEV, SecurityFiles, load_security
from tests.support.mtls import DevNetwork, dev_network


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> DevNetwork:
    return dev_network(tmp_path_factory.mktemp("net"), '[partners.bank-a]\nroles = ["query"]\n', also_issue=("bank-b",))


def _files(network: DevNetwork) -> SecurityFiles:
    tls = network.server_tls
    return SecurityFiles(str(tls.cert), str(tls.key), str(tls.client_ca), str(tls.partners))


def test_insecure_dev_reads_no_file() -> None:
    """Without files (--insecure-dev) the security is plaintext development."""
    assert load_security(None) is INSECURE_DEV


def test_good_files_give_the_bytes_and_the_members(network: DevNetwork) -> None:
    """The certificate chain, key and client CA as read, and the partners file's members with their roles."""
    files = _files(network)
    security = load_security(files)
    assert security.tls is not None
    assert security.tls.cert_chain == Path(files.tls_cert).read_bytes()
    assert security.tls.private_key == Path(files.tls_key).read_bytes()
    assert security.tls.client_ca == Path(files.client_ca).read_bytes()
    assert security.partners is not None and security.partners["bank-a"].roles == frozenset({Role.QUERY})


@pytest.mark.parametrize("field", ["tls_cert", "tls_key", "client_ca", "partners"])
def test_a_missing_file_is_a_config_error_naming_it(network: DevNetwork, tmp_path: Path, field: str) -> None:
    """Each of the four files missing: ConfigError naming that file."""
    missing = str(tmp_path / f"no-{field}")
    with pytest.raises(ConfigError, match=f"no-{field}"):
        load_security(dataclasses.replace(_files(network), **{field: missing}))


@pytest.mark.parametrize(("field", "reason"), [("tls_cert", "not a PEM certificate"),
                                               ("tls_key", "not an unencrypted PEM private key"),
                                               ("client_ca", "not a PEM certificate")])
def test_a_file_that_is_not_pem_is_a_config_error_naming_it(
    network: DevNetwork, tmp_path: Path, field: str, reason: str
) -> None:
    """A certificate or key file holding something else: ConfigError naming the file and what it should be."""
    garbage = tmp_path / f"garbage-{field}.pem"
    garbage.write_text("not pem at all\n")
    with pytest.raises(ConfigError, match=f"{garbage}: {reason}"):
        load_security(dataclasses.replace(_files(network), **{field: str(garbage)}))


def test_a_key_of_another_certificate_is_a_config_error(network: DevNetwork) -> None:
    """A key that is not the server certificate's: ConfigError naming both files."""
    other_key = str(network.certs / "bank-b.key")
    files = dataclasses.replace(_files(network), tls_key=other_key)
    with pytest.raises(ConfigError, match=f"--tls-key {other_key} is not the key of the certificate in --tls-cert"):
        load_security(files)


def test_a_bad_partners_file_is_a_config_error_naming_it(network: DevNetwork, tmp_path: Path) -> None:
    """A partners file with an unknown role: ConfigError naming the file."""
    partners = tmp_path / "bad-partners.toml"
    partners.write_text('[partners.bank-a]\nroles = ["superuser"]\n')
    with pytest.raises(ConfigError, match="bad-partners.toml"):
        load_security(dataclasses.replace(_files(network), partners=str(partners)))
