"""Who is calling: the partner id and roles behind an RPC (from its client certificate)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc


class Role(enum.StrEnum):
    """What a partner may do (granted per partner in the --partners file)."""

    QUERY = "query"            # Check, BatchCheck, StreamCheck, GetEntry, GetFilter*, ReportOutcome
    CONTRIBUTE = "contribute"  # Report, Revoke
    ADMIN = "admin"            # the Admin service


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated partner."""

    partner: str
    roles: frozenset[Role]


DEV_CALLER = Caller(partner="dev", roles=frozenset(Role))
"""Every caller of a plaintext --insecure-dev server (until mTLS lands: every caller)."""


def caller_of(context: grpc.ServicerContext) -> Caller:
    """The partner behind this RPC (placeholder until mutual TLS: the development caller)."""
    return DEV_CALLER
