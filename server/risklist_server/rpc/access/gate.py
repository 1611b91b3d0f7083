"""The gate every RPC passes: who is calling (client certificate CN), may they call this, is their quota left."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import grpc
import structlog

from risklist_server.core.errors import NotAuthenticated, NotPermitted, QuotaExceeded
from risklist_server.core.partners import Partner, Role
from risklist_server.core.quota import PartnerQuota, Refusal
from risklist_server.core.subject_cost import normalising_overrun
from risklist_server.rpc.access.caller import DEV_CALLER, Caller
from risklist_server.rpc.access.config import INSECURE_DEV, Security, TlsFiles
from risklist_server.rpc.access.peers import AuthenticatedPeers

log = structlog.get_logger("risklist.access")

PARTNER_ID_FIELD = "x509_common_name"
"""The auth-context property carrying the partner id: the verified client certificate's Subject CN."""

_REFUSAL_LOG_SECONDS = 10.0


class Gate:
    """Authentication, authorisation and quotas for one process's servers.

    A process builds one and passes it to each of its servers (a writer's two share it, and so
    their quota buckets). The default, Gate(), is plaintext development: every caller `dev`.
    `apply` puts new certificates and members in force while serving (rpc/access/reload.py).
    """

    def __init__(self, security: Security = INSECURE_DEV) -> None:
        self._insecure = security.tls is None
        # The per-peer lookup: the certificate's CN (bytes, as grpc gives it) to the member; replaced whole.
        self._members: dict[bytes, tuple[Caller, PartnerQuota]] = {}
        self._security = INSECURE_DEV
        self._tls: tuple[int, TlsFiles | None] = (0, security.tls)
        """The certificate configuration in force and its number (one attribute: read from grpc's threads)."""
        self._refusals_logged: dict[tuple[str, str], float] = {}
        self.peers = AuthenticatedPeers()
        """Peers of connections that carried an admitted call (the connection shedder spares them)."""
        self.apply(security)

    @property
    def security(self) -> Security:
        """The certificates and members in force."""
        return self._security

    def apply(self, security: Security) -> None:
        """Serve `security` from now on: its members from the next call, its certificates from the next handshake.

        A member whose quota is unchanged keeps its buckets (a reload does not refill them).
        """
        if (security.tls is None) != self._insecure:
            raise ValueError("a gate cannot switch between mutual TLS and --insecure-dev while serving")
        kept = self._members
        previous = self._security.partners or {}
        members: dict[bytes, tuple[Caller, PartnerQuota]] = {}
        for partner in (security.partners or {}).values():
            key = partner.id.encode()
            old = previous.get(partner.id)
            quota = kept[key][1] if old is not None and old.quota == partner.quota and key in kept \
                else PartnerQuota(partner)
            members[key] = (Caller(partner.id, partner.roles), quota)
        self._members = members
        if security.tls != self._tls[1]:
            self._tls = (self._tls[0] + 1, security.tls)
        self._security = security

    def certificate_configuration(self) -> grpc.ServerCertificateConfiguration:
        """The server certificate, its key and the client CA in force, as grpc takes them."""
        tls = self._tls[1]
        assert tls is not None, "no certificates in --insecure-dev"
        return _configuration(tls)

    def certificate_fetcher(self) -> Callable[[], grpc.ServerCertificateConfiguration | None]:
        """For grpc.dynamic_ssl_server_credentials (one per server): grpc calls it before each new handshake;
        it returns the new configuration once after `apply` changed the certificates, else None (no change)."""
        served = self._tls[0]

        def fetch() -> grpc.ServerCertificateConfiguration | None:
            nonlocal served
            number, tls = self._tls
            if number == served or tls is None:
                return None
            served = number
            return _configuration(tls)

        return fetch

    def _member(self, context: grpc.ServicerContext) -> tuple[Caller, PartnerQuota | None]:
        if self._insecure:
            return DEV_CALLER, None
        # peer_identities() is the CN unless the certificate has SANs (then the SANs): ~0.3 µs
        # against ~4 µs for the whole auth_context().
        names: Iterable[bytes] | bytes | None
        if context.peer_identity_key() == PARTNER_ID_FIELD:
            names = context.peer_identities()
        else:
            names = context.auth_context().get(PARTNER_ID_FIELD)
        name = names if isinstance(names, bytes) else next(iter(names or ()), None)
        if name is None:
            raise NotAuthenticated("no verified client certificate with a partner id (Subject CN); "
                                   "call with the client certificate the network operator issued you")
        member = self._members.get(name)
        if member is None:
            shown = name.decode("utf-8", "replace")[:64]
            raise NotAuthenticated(f"the client certificate names partner {shown!r}, which is not a member "
                                   "of this network; ask the network operator to add it to the partners file")
        return member

    def caller(self, context: grpc.ServicerContext) -> Caller:
        """The partner behind `context` (NotAuthenticated if none)."""
        return self._member(context)[0]

    def members(self) -> Mapping[str, Partner] | None:
        """The members in force, by partner id; None in --insecure-dev."""
        return self._security.partners

    def admit(self, context: grpc.ServicerContext, role: Role, method: str) -> Caller:
        """The caller, if it holds `role` and has a request left in its quota; else raise why not."""
        caller, quota = self._member(context)
        if role not in caller.roles:
            raise NotPermitted(caller.partner, role.value, method)
        if quota is not None:
            self._check(quota.take_request(), method)
        self.peers.add(context.peer())
        return caller

    def charge_subjects(self, context: grpc.ServicerContext, count: int) -> None:
        """Charge `count` subjects to the caller's quota; QuotaExceeded if they do not fit now."""
        if self._insecure:
            return
        quota = self._member(context)[1]
        if quota is not None:
            self._check(quota.take_subjects(count), "subjects")

    def charge_normalising(self, context: grpc.ServicerContext, subjects: int, raw_values: int,
                           cpu_seconds: float) -> None:
        """Charge the caller's subjects quota for resolving `subjects` subjects, `raw_values` of them raw, in
        `cpu_seconds`, beyond what they cost up front (risklist_server.core.subject_cost.normalising_overrun): after
        the work, never refused; a debt refuses the caller's next calls until it is paid."""
        overrun = normalising_overrun(subjects - raw_values, raw_values, cpu_seconds)
        if self._insecure or not overrun:
            return
        quota = self._member(context)[1]
        if quota is not None:
            quota.spend_subjects(overrun)

    def _check(self, refusal: Refusal | None, method: str) -> None:
        if refusal is None:
            return
        key = (refusal.partner, refusal.dimension)
        now = time.monotonic()
        if now - self._refusals_logged.get(key, -_REFUSAL_LOG_SECONDS) >= _REFUSAL_LOG_SECONDS:
            self._refusals_logged[key] = now  # one line per partner and quota every 10 s, not per call
            log.warning("quota_exhausted", partner=refusal.partner, quota=refusal.dimension,
                        per_second=refusal.per_second, method=method)
        raise QuotaExceeded(refusal.partner, refusal.dimension, refusal.per_second, refusal.retry_after)


def _configuration(tls: TlsFiles) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(tls.private_key, tls.cert_chain)],
                                                     root_certificates=tls.client_ca)
