"""Listing a subject through a running server's Admin.Ingest call, as an operator's loader would."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from risklist_server.cli.client_tls import ClientTls, open_channel

PHONE = "+8613800138000"


def ingest_phone(
    admin_address: str, secret: NetworkSecret, raw_canonical: str = PHONE, *, tls: ClientTls | None = None
) -> int:
    """List one phone number (canonical form) as telecom fraud; return the acknowledged list version.

    `tls`: an admin partner's files for a mutual-TLS server (None: plaintext, --insecure-dev).
    """
    digest = Digester(secret).digest(EntityType.PHONE, raw_canonical)
    requests = [
        pb.IngestRequest(start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_DELTA,
                                              secret_fingerprint=secret.fingerprint)),
        pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation(
            action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE, digest=digest,
            category=pb.CATEGORY_TELECOM_FRAUD, level=pb.RISK_LEVEL_HIGH,
            reported_at=Timestamp(seconds=1_760_000_000), expires_at=Timestamp(seconds=4_000_000_000))])),
    ]
    with open_channel(admin_address, tls) as channel:
        response: pb.IngestResponse = pb_grpc.AdminStub(channel).Ingest(iter(requests), timeout=10)
    return int(response.list_version)
