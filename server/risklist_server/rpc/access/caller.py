"""Who is calling: the partner id and roles behind an RPC (from its client certificate)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import grpc

from risklist_server.core.partners import Partner, Role

__all__ = ["DEV_CALLER", "Authenticator", "Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated partner."""

    partner: str
    roles: frozenset[Role]


DEV_CALLER = Caller(partner="dev", roles=frozenset(Role))
"""Every caller of a plaintext --insecure-dev server: partner id `dev`, every role, no quota."""


class Authenticator(Protocol):
    """What a servicer asks about its callers (risklist_server.rpc.access.gate.Gate, passed in by create_server)."""

    def caller(self, context: grpc.ServicerContext) -> Caller:
        """The partner behind this RPC: from the verified client certificate's CN, or DEV_CALLER in --insecure-dev.

        Raises NotAuthenticated for a certificate of no member (the method wrapper refused such
        calls already, so a servicer never sees that).
        """
        ...

    def members(self) -> Mapping[str, Partner] | None:
        """The network's members in force, by partner id; None in --insecure-dev (no partners file)."""
        ...

    def charge_subjects(self, context: grpc.ServicerContext, count: int) -> None:
        """Charge `count` subjects to the caller's subjects-per-second quota; QuotaExceeded if spent.

        Call it once the request is parsed and before the lookup work (BatchCheck, StreamCheck).
        """
        ...

    def charge_normalising(self, context: grpc.ServicerContext, subjects: int, raw_values: int,
                           cpu_seconds: float) -> None:
        """Charge the subjects quota for resolving `subjects` subjects, `raw_values` of them raw, in `cpu_seconds` of
        CPU, beyond what they cost up front; never refused (the work is done), a debt refuses the next calls."""
        ...
