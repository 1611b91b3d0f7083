"""`make serve`'s demo certificates are issued afresh each time, so the demo never serves expired ones."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.paths import REPO


def _expired_ca(certs: Path) -> x509.Certificate:
    """A CA certificate and key as `risklist-admin certs` writes them, but a year past its end."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "risklist development CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=730))
            .not_valid_after(now - datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certs.mkdir(parents=True)
    (certs / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return cert


def test_make_demo_certs_replaces_expired_certificates(tmp_path: Path) -> None:
    """A demo folder whose CA expired (make serve run a year earlier) gets a new, valid CA and certificates."""
    demo = tmp_path / ".demo"
    old = _expired_ca(demo / "certs")
    subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "-o", "install", f"DEMO={demo}",
                    f"BIN={Path(sys.executable).parent}", "demo-certs"], check=True, capture_output=True, timeout=120)
    now = datetime.datetime.now(datetime.UTC)
    for name in ("ca", "server", "east-harbour-bank", "operator"):
        cert = x509.load_pem_x509_certificate((demo / "certs" / f"{name}.pem").read_bytes())
        assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc, name
    assert x509.load_pem_x509_certificate((demo / "certs" / "ca.pem").read_bytes()) != old
