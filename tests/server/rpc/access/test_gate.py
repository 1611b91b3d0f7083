"""The gate, in-process with a stand-in for grpc's context: who calls, with which roles, within which quota."""

from __future__ import annotations

import grpc
import pytest

from risklist_server.core.errors import NotAuthenticated, NotPermitted, QuotaExceeded
from risklist_server.core.partners import Partner, Quota, Rate, Role
from risklist_server.rpc.access.caller import DEV_CALLER, Caller
from risklist_server.rpc.access.config import Security, TlsFiles
from risklist_server.rpc.access.gate import PARTNER_ID_FIELD, Gate

TLS = TlsFiles(b"chain", b"key", b"ca")


class _Context:
    """Answers as grpc does for a verified client certificate with Subject CN `name` (or none)."""

    def __init__(self, name: bytes | None, *, with_sans: bool = False, peer: str = "ipv4:127.0.0.1:51514") -> None:
        self._name = name
        self._with_sans = with_sans
        self._peer = peer

    def peer(self) -> str:
        return self._peer

    def peer_identity_key(self) -> str | None:
        if self._name is None:
            return None
        return "x509_subject_alternative_name" if self._with_sans else PARTNER_ID_FIELD

    def peer_identities(self) -> list[bytes] | None:
        return None if self._name is None else [b"san.example" if self._with_sans else self._name]

    def auth_context(self) -> dict[str, list[bytes]]:
        return {} if self._name is None else {PARTNER_ID_FIELD: [self._name]}


def _context(name: bytes | None, *, with_sans: bool = False) -> grpc.ServicerContext:
    context: grpc.ServicerContext = _Context(name, with_sans=with_sans)  # type: ignore[assignment]
    return context


def _gate(*partners: Partner) -> Gate:
    return Gate(Security(TLS, {partner.id: partner for partner in partners}))


def test_the_development_gate_admits_everyone_as_dev() -> None:
    """Without TLS every caller is partner `dev` with every role and no quota, certificate or not."""
    gate = Gate()
    for role in Role:
        assert gate.admit(_context(None), role, "Check") == DEV_CALLER
    assert gate.caller(_context(b"anyone")) == DEV_CALLER
    gate.charge_subjects(_context(None), 10**9)


def test_the_caller_is_the_member_its_certificate_names() -> None:
    """The certificate's Subject CN picks the member, also when the certificate carries SANs."""
    gate = _gate(Partner("bank-a", frozenset({Role.QUERY})), Partner("bank-b", frozenset({Role.CONTRIBUTE})))
    assert gate.caller(_context(b"bank-a")) == Caller("bank-a", frozenset({Role.QUERY}))
    assert gate.caller(_context(b"bank-b", with_sans=True)) == Caller("bank-b", frozenset({Role.CONTRIBUTE}))


def test_callers_outside_the_network_are_not_authenticated() -> None:
    """No certificate, or one naming no member, is NotAuthenticated (saying which partner it named)."""
    gate = _gate(Partner("bank-a", frozenset({Role.QUERY})))
    with pytest.raises(NotAuthenticated, match="no verified client certificate"):
        gate.admit(_context(None), Role.QUERY, "Check")
    with pytest.raises(NotAuthenticated, match="'bank-z', which is not a member"):
        gate.caller(_context(b"bank-z"))


def test_a_method_needs_its_role() -> None:
    """A member without the role a method needs is NotPermitted, naming the partner and the role."""
    gate = _gate(Partner("bank-a", frozenset({Role.QUERY})))
    assert gate.admit(_context(b"bank-a"), Role.QUERY, "Check").partner == "bank-a"
    with pytest.raises(NotPermitted) as refused:
        gate.admit(_context(b"bank-a"), Role.CONTRIBUTE, "Report")
    assert "bank-a" in str(refused.value) and "contribute" in str(refused.value)


def test_only_admitted_calls_mark_their_connection_as_a_members() -> None:
    """The connection shedder spares peers the gate admitted; a refused caller's peer is never recorded."""
    gate = _gate(Partner("bank-a", frozenset({Role.QUERY})))
    gate.admit(_Context(b"bank-a", peer="ipv4:10.0.0.7:5000"), Role.QUERY, "Check")  # type: ignore[arg-type]
    for refused in (_Context(b"bank-a", peer="ipv4:10.0.0.8:5000"), _Context(b"stranger", peer="ipv4:10.0.0.9:5000")):
        with pytest.raises((NotPermitted, NotAuthenticated)):
            gate.admit(refused, Role.CONTRIBUTE, "Report")  # type: ignore[arg-type]
    assert gate.peers.snapshot() == {"ipv4:10.0.0.7:5000"}


def test_request_and_subject_quotas_are_charged_per_partner() -> None:
    """Each partner has its own buckets: one spending its requests or subjects leaves the other's intact."""
    quota = Quota(requests=Rate(per_second=0.001, burst=2), subjects=Rate(per_second=0.001, burst=100))
    gate = _gate(Partner("bank-a", frozenset({Role.QUERY}), quota), Partner("bank-b", frozenset({Role.QUERY}), quota))
    for _ in range(2):
        gate.admit(_context(b"bank-a"), Role.QUERY, "Check")
    with pytest.raises(QuotaExceeded) as refused:
        gate.admit(_context(b"bank-a"), Role.QUERY, "Check")
    assert (refused.value.partner, refused.value.dimension) == ("bank-a", "requests")
    gate.charge_subjects(_context(b"bank-b"), 100)
    with pytest.raises(QuotaExceeded) as spent:
        gate.charge_subjects(_context(b"bank-b"), 1)
    assert (spent.value.partner, spent.value.dimension) == ("bank-b", "subjects")
    gate.admit(_context(b"bank-b"), Role.QUERY, "Check")


def test_gates_share_no_state() -> None:
    """Building a second gate (another server's or a test's) changes neither the first one's callers nor its buckets."""
    quota = Quota(requests=Rate(per_second=0.001, burst=1))
    first = _gate(Partner("bank-a", frozenset({Role.QUERY}), quota))
    first.admit(_context(b"bank-a"), Role.QUERY, "Check")
    second = _gate(Partner("bank-a", frozenset({Role.QUERY}), quota))
    Gate()
    second.admit(_context(b"bank-a"), Role.QUERY, "Check")
    with pytest.raises(QuotaExceeded):
        first.admit(_context(b"bank-a"), Role.QUERY, "Check")
    assert first.caller(_context(b"bank-a")).partner == "bank-a"
