"""risklist.v1.Admin: the single writer's ingest call (fed by `risklist-load --server`), quality report and backup."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import structlog
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_server.audit.trail import DISCARD, AuditSink
from risklist_server.core.errors import BatchTooLarge, InvalidSubjects, SecretMismatch
from risklist_server.core.partners import require_ingest_source
from risklist_server.core.settings import Settings
from risklist_server.core.source import SOURCE_ID_RULE, is_valid_source_id
from risklist_server.rpc import network_info
from risklist_server.rpc.access.caller import Authenticator, Caller
from risklist_server.rpc.convert import batch_mutations, quality_to_proto
from risklist_server.rpc.decode import MUTATION_BYTES, OTHER_BYTES, count_field, decode, field_payloads
from risklist_server.rpc.drain import Drain
from risklist_server.rpc.ingest_loads import IngestLoad, IngestLoads, local_loads
from risklist_server.rpc.request_id import new_request_id
from risklist_server.rpc.rpc_log import ADMIN_SERVICE, RpcLog
from risklist_server.rpc.status import RequestCancelled, abort
from risklist_server.services.backup import backup_store
from risklist_server.services.ingest import LoadMode
from risklist_server.services.outcomes import quality_report
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.admin")

DEFAULT_MAX_BATCH = Settings().max_batch
_BATCH_FIELD = pb.IngestRequest.DESCRIPTOR.fields_by_name["batch"].number
_MUTATIONS_FIELD = pb.IngestBatch.DESCRIPTOR.fields_by_name["mutations"].number
_MODES = {pb.LOAD_MODE_DELTA: LoadMode.DELTA, pb.LOAD_MODE_SNAPSHOT: LoadMode.SNAPSHOT}


class AdminServicer(pb_grpc.AdminServicer):
    """Ingest (a start message, then batches applied atomically as they arrive) and GetQuality.

    Audited as one record for the start and one per batch (its subjects' keys), all under the
    call's request id and naming the source loaded under (once the start accepted it); a batch's
    record is opened before the batch is read, so a refused batch is recorded alone, and the last
    record carries the call's final status.
    """

    def __init__(
        self, store: RiskStore, *, gate: Authenticator, audit: AuditSink = DISCARD, max_batch: int = DEFAULT_MAX_BATCH,
        drain: Drain | None = None, loads: IngestLoads | None = None,
    ) -> None:
        """`max_batch`: the most mutations one ingest batch may hold (settings.max_batch); `drain`: the process's
        calls in flight (risklist_server.rpc.drain); `loads`: how a call's load is applied (default: to `store`,
        in this process; a cluster node's: through the write log)."""
        self._loads = loads or local_loads(store)
        self._store = store
        self._gate = gate
        self._audit = audit
        self._max_batch = max_batch
        self._drain = drain

    def Ingest(self, request_iterator: Iterator[bytes], context: grpc.ServicerContext) -> pb.IngestResponse:
        """Takes each message's bytes (rpc/app.py registers no deserializer): a batch's mutations are counted
        on the wire before it is unpacked."""
        with RpcLog("Ingest", ADMIN_SERVICE, audit=self._audit, context=context, drain=self._drain) as rpc:
            caller = self._gate.caller(context)
            partner = caller.partner
            request_id = new_request_id()
            start = rpc.audit(partner, request_id)
            try:
                first = next(request_iterator, None)
                session, source = self._start(None if first is None else decode(pb.IngestRequest, first), caller,
                                              request_id)
                start.source = source
                session.start()
                for number, data in enumerate(request_iterator):
                    batch = rpc.audit(partner, request_id, source=source)  # this batch's; the last one was applied
                    if not context.is_active():
                        raise RequestCancelled()
                    request = self._batch_request(data)
                    if request.WhichOneof("part") != "batch":
                        raise InvalidSubjects([(f"requests[{number + 1}]", "expected a batch")])
                    mutations = batch_mutations(request.batch, source, number + 1)
                    rpc.count += len(mutations)
                    batch.keys = [mutation.key for mutation in mutations]
                    session.apply(mutations, request.batch, number + 1)
                result = session.finish()
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.hits = result.added
            log.info("ingest_done", request_id=request_id, source=source, added=result.added,
                     unchanged=result.unchanged, removed=result.removed, not_listed=result.not_listed,
                     swept=result.swept,
                     list_version=self._store.version)
            return pb.IngestResponse(
                added=result.added, unchanged=result.unchanged, removed=result.removed,
                not_listed=result.not_listed, swept=result.swept, list_version=self._store.version,
            )

    def GetQuality(self, request: bytes, context: grpc.ServicerContext) -> pb.GetQualityResponse:
        """Per-source outcome tallies and precision, and live contributions (a full scan of the store)."""
        with RpcLog("GetQuality", ADMIN_SERVICE, audit=self._audit, context=context, drain=self._drain) as rpc:
            rpc.audit(self._gate.caller(context).partner, new_request_id())
            try:
                decode(pb.GetQualityRequest, request)
                rows = quality_report(self._store, int(time.time()))
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.count = len(rows)
            return quality_to_proto(rows)

    def Backup(self, request: bytes, context: grpc.ServicerContext) -> pb.BackupResponse:
        """A consistent backup of the store into a directory on this machine (services/backup.py)."""
        with RpcLog("Backup", ADMIN_SERVICE, audit=self._audit, context=context, drain=self._drain) as rpc:
            partner = self._gate.caller(context).partner
            request_id = new_request_id()
            rpc.audit(partner, request_id)
            try:
                manifest = backup_store(self._store, decode(pb.BackupRequest, request).directory)
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.count = len(manifest.files)
            return pb.BackupResponse(list_version=manifest.changelog_sequence, files=len(manifest.files),
                                     bytes=sum(f.size for f in manifest.files),
                                     secret_fingerprint=manifest.secret_fingerprint)

    def GetNetworkInfo(self, request: bytes, context: grpc.ServicerContext) -> pb.GetNetworkInfoResponse:
        """The store's secret fingerprint, so `risklist-load --server` compares before it sends a row."""
        return network_info.get_network_info(request, self._store.secret_fingerprint, lambda: self._store.version,
                                             self._gate, context,
                                             RpcLog("GetNetworkInfo", ADMIN_SERVICE, audit=self._audit,
                                                    context=context, drain=self._drain),
                                             list_id=self._store.list_id)

    def _batch_request(self, data: bytes) -> pb.IngestRequest:
        """An IngestRequest's bytes parsed once its batch is known to hold at most max_batch mutations."""
        if len(data) > self._max_batch * MUTATION_BYTES + OTHER_BYTES:
            raise BatchTooLarge(len(data) // MUTATION_BYTES, self._max_batch, items="mutations", at_least=True,
                                reason=f"the message's {len(data)} bytes are more than {self._max_batch} "
                                       "mutations can take")
        for batch in field_payloads(data, _BATCH_FIELD, message_type="risklist.v1.IngestRequest"):
            count = count_field(batch, _MUTATIONS_FIELD, limit=self._max_batch, message_type="risklist.v1.IngestBatch")
            if count > self._max_batch:
                raise BatchTooLarge(count, self._max_batch, items="mutations", at_least=True,
                                    reason="send smaller batches: risklist-load --batch-size")
        return decode(pb.IngestRequest, data)

    def _start(self, first: pb.IngestRequest | None, caller: Caller, request_id: str) -> tuple[IngestLoad, str]:
        """The session `first` (the start message) asks for, if `partner` may load it. A source or secret refused
        here ends the call PERMISSION_DENIED or FAILED_PRECONDITION, which Ingest gives only before it applies
        anything (docs/api.md): the message need not say so, the code does."""
        if first is None or first.WhichOneof("part") != "start":
            raise InvalidSubjects([("requests[0].start", "the first message must be start")])
        source = first.start.source
        if not is_valid_source_id(source):
            raise InvalidSubjects([("requests[0].start.source", f"source id must be {SOURCE_ID_RULE}")])
        members = self._gate.members()
        if members is not None:  # --insecure-dev has no partners file: any source id (docs/operations.md)
            require_ingest_source(members, caller.partner, source)
        if first.start.secret_fingerprint != self._store.secret_fingerprint:
            raise SecretMismatch(
                f"the loader digested under another network secret (fingerprint "
                f"{first.start.secret_fingerprint or 'none'}, this server's is "
                f"{self._store.secret_fingerprint}); load with the secret the server runs with"
            )
        mode = _MODES.get(first.start.mode)
        if mode is None:
            raise InvalidSubjects([("requests[0].start.mode", "mode must be DELTA or SNAPSHOT")])
        return self._loads(first.start, mode, caller, request_id), source

