"""A development network for tests: certificates from `risklist-admin certs`, a partners file, client channels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from risklist_server.cli.certs import issue
from risklist_server.cli.client_tls import ClientTls, open_channel
from tests.support.running_server import MutualTls

HOG_AND_OTHER = """
[partners.hog]
roles = ["query"]
[partners.other]
roles = ["query"]
"""
"""A partners file of two querying members: one that tries to take more than its share, and one that must not
notice."""



@dataclass(frozen=True)
class DevNetwork:
    """Certificates in `certs` for every partner of `partners_file` (and any extra ones issued)."""

    certs: Path
    partners_file: Path

    @property
    def server_tls(self) -> MutualTls:
        """The server's flags: its certificate and key, the client CA, the partners file."""
        return MutualTls(self.certs / "server.pem", self.certs / "server.key", self.certs / "ca.pem",
                         self.partners_file)

    def client(self, partner: str) -> ClientTls:
        """Partner `partner`'s files as a client holds them."""
        return ClientTls((self.certs / "ca.pem").read_bytes(), (self.certs / f"{partner}.pem").read_bytes(),
                         (self.certs / f"{partner}.key").read_bytes())

    def client_flags(self, partner: str) -> tuple[str, ...]:
        """risklist-check/risklist-load flags for `partner`."""
        return ("--ca", str(self.certs / "ca.pem"), "--cert", str(self.certs / f"{partner}.pem"),
                "--key", str(self.certs / f"{partner}.key"))

    def channel(self, address: str, partner: str) -> grpc.Channel:
        """A mutual-TLS channel to `address` as `partner` (its own connection)."""
        return open_channel(address, self.client(partner), options=[("grpc.use_local_subchannel_pool", 1)])


def dev_network(directory: Path, partners_toml: str, *, also_issue: tuple[str, ...] = ()) -> DevNetwork:
    """Issue certificates for every [partners.ID] of `partners_toml` (and `also_issue`) under `directory`."""
    import tomllib

    partners_file = directory / "partners.toml"
    partners_file.write_text(partners_toml)
    ids = [*tomllib.loads(partners_toml).get("partners", {}), *also_issue]
    issue(directory / "certs", ids, days=2)
    return DevNetwork(directory / "certs", partners_file)
