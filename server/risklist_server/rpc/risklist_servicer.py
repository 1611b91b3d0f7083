"""risklist.v1.RiskList: a thin adapter from protobuf to LookupService."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import KEY_SIZE
from risklist_server.audit.trail import DISCARD, AuditSink
from risklist_server.core.errors import BatchTooLarge, InvalidSubject, InvalidSubjects
from risklist_server.core.subject import Subject
from risklist_server.core.subject_cost import subjects_charge
from risklist_server.rpc import filter_stream, network_info
from risklist_server.rpc.access.caller import Authenticator
from risklist_server.rpc.convert import subject_from_proto, subjects_from_proto, verdict_to_proto
from risklist_server.rpc.convert_contributions import entry_to_proto
from risklist_server.rpc.decode import REPORT_BYTES, SUBJECT_BYTES, decode, require_at_most
from risklist_server.rpc.drain import Drain, ended_status
from risklist_server.rpc.request_id import new_request_id
from risklist_server.rpc.rpc_log import AuditEntry, RpcLog
from risklist_server.rpc.status import DeadlineExpired, RequestCancelled, RequestNotReceived, abort
from risklist_server.rpc.wire_batch import RECORD_SIZE, digest_count, packed_digest_keys
from risklist_server.rpc.write_calls import RequestT, ResponseT, WriteGateway
from risklist_server.services.entries import EntryService
from risklist_server.services.hit_tokens import HitTokens
from risklist_server.services.lookup import LookupService
from risklist_server.store.filter_export import FilterExport


def _count(audit: AuditEntry) -> int:
    """How many subjects an answer looked up."""
    return len(audit.keys) // KEY_SIZE if isinstance(audit.keys, bytes) else len(audit.keys)


def require_time_left(context: grpc.ServicerContext) -> None:
    """Refuse to start work the caller will no longer wait for."""
    if not context.is_active():
        raise RequestCancelled()
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExpired()


class RiskListServicer(pb_grpc.RiskListServicer):
    """Check, BatchCheck, StreamCheck; Report and Revoke (through `writes`); GetEntry; ReportOutcome (through `writes`);
    GetFilter and GetFilterUpdates (risklist_server.rpc.filter_stream).

    Every method takes its request's bytes (app.py registers no deserializer) and parses them inside
    its RPC log (risklist_server.rpc.decode): batches are counted on the wire before anything is
    unpacked, undecodable bytes are INVALID_ARGUMENT, and the logged latency includes the parsing.
    Each hit of a check answer carries its outcome token from `tokens` (None: no tokens).
    """

    def __init__(
        self,
        lookup: LookupService,
        *,
        gate: Authenticator,
        log_success: bool = True,
        writes: WriteGateway | None = None,
        entries: EntryService | None = None,
        audit: AuditSink = DISCARD,
        filters: FilterExport | None = None,
        tokens: HitTokens | None = None,
        drain: Drain | None = None,
    ) -> None:
        """`drain`: the process's calls in flight (risklist_server.rpc.drain), so a stopping worker audits them all."""
        self._lookup = lookup
        self._tokens = tokens
        self._gate = gate
        self._log_success = log_success
        self._writes = writes
        self._entries = entries
        self._audit = audit
        self._filters = filters
        self._drain = drain

    def _rpc(self, method: str, context: grpc.ServicerContext) -> RpcLog:
        return RpcLog(method, log_success=self._log_success, audit=self._audit, context=context, drain=self._drain)

    def Check(self, request: bytes, context: grpc.ServicerContext) -> pb.CheckResponse:
        with self._rpc("Check", context) as rpc:
            rpc.count = 1
            audit = rpc.audit(self._gate.caller(context).partner, new_request_id())
            try:
                require_time_left(context)
                message = decode(pb.CheckRequest, request)
                key = self._storage_key(subject_from_proto(message.subject), context)
                audit.keys = (key,)
                verdict, version = self._lookup.check_key(key)
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            token = b""
            if verdict.listed:
                rpc.hits = 1
                audit.hits = (0,)
                [token] = self._hit_tokens(audit, [key])
            return pb.CheckResponse(verdict=verdict_to_proto(verdict), list_version=version,
                                    request_id=audit.request_id, outcome_token=token)

    def BatchCheck(self, request: bytes, context: grpc.ServicerContext) -> pb.BatchCheckResponse:
        """Takes the request's bytes (app.py registers no deserializer): all-digest batches skip protobuf."""
        with self._rpc("BatchCheck", context) as rpc:
            audit = rpc.audit(self._gate.caller(context).partner, new_request_id())
            try:
                require_time_left(context)
                response = self._batch(request, audit, context)
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.count = _count(audit)
            rpc.hits = len(response.hits)
            return response

    def StreamCheck(
        self, request_iterator: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[pb.BatchCheckResponse]:
        """Each message as BatchCheck's request: bytes, all-digest ones read from the wire.

        A stream cut off before its caller closed it (grpc refused a message as too large; the caller
        cancelled; its deadline passed; the server stopped), while the server waited for a message or
        sent an answer, is audited once more: no subjects, not received, the status the caller got.
        """
        with self._rpc("StreamCheck", context) as rpc:
            partner = self._gate.caller(context).partner
            try:
                for number, request in enumerate(request_iterator):
                    audit = rpc.audit(partner, new_request_id())
                    try:
                        require_time_left(context)
                        response = self._batch(request, audit, context)
                    except InvalidSubjects as error:
                        located = InvalidSubjects(
                            [(f"messages[{number}].{field}", reason) for field, reason in error.violations]
                        )
                        rpc.fail(located)
                        abort(context, located)
                    except Exception as error:
                        rpc.fail(error)
                        abort(context, error)
                    rpc.count += _count(audit)
                    rpc.hits += len(response.hits)
                    rpc.answered()  # audited before the answer leaves
                    yield response
                if not context.is_active():  # grpc reported the cut-off only after the stream seemed closed
                    raise RequestNotReceived(ended_status(context, self._drain))
            except RequestNotReceived as error:  # waiting for the next message
                rpc.audit(partner, new_request_id()).received = False
                rpc.fail(error)
            except GeneratorExit:  # grpc dropped the stream as an answer left: the call is over
                rpc.audit(partner, new_request_id()).received = False
                rpc.fail(RequestNotReceived(ended_status(context, self._drain)))
                raise

    def GetFilter(self, request: bytes, context: grpc.ServicerContext) -> Iterator[pb.FilterChunk]:
        return filter_stream.get_filter(self._filter_export(context), self._gate, request, context,
                                        self._rpc("GetFilter", context))

    def GetFilterUpdates(self, request: bytes, context: grpc.ServicerContext) -> Iterator[pb.FilterUpdate]:
        return filter_stream.get_filter_updates(
            self._filter_export(context), self._gate, request, context, self._rpc("GetFilterUpdates", context))

    def GetNetworkInfo(self, request: bytes, context: grpc.ServicerContext) -> pb.GetNetworkInfoResponse:
        export = self._filter_export(context)  # it knows the secret the served keys were digested under
        return network_info.get_network_info(request, export.secret_fingerprint, lambda: export.version, self._gate,
                                             context, self._rpc("GetNetworkInfo", context), list_id=export.list_id)

    def _filter_export(self, context: grpc.ServicerContext) -> FilterExport:
        if self._filters is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this server does not distribute the partner filter")
        return self._filters

    def Report(self, request: bytes, context: grpc.ServicerContext) -> pb.ReportResponse:
        def checked(data: bytes) -> tuple[pb.ReportRequest, Sequence[pb.Subject]]:
            require_at_most(data, 1, self._lookup.max_batch, item_bytes=REPORT_BYTES, items="reports",
                            message_type="risklist.v1.ReportRequest")
            message = decode(pb.ReportRequest, data)
            return message, [report.subject for report in message.reports]

        return self._write("Report", request, checked, pb.ReportResponse, context)

    def Revoke(self, request: bytes, context: grpc.ServicerContext) -> pb.RevokeResponse:
        def checked(data: bytes) -> tuple[pb.RevokeRequest, Sequence[pb.Subject]]:
            require_at_most(data, 1, self._lookup.max_batch, item_bytes=SUBJECT_BYTES, items="subjects",
                            message_type="risklist.v1.RevokeRequest")
            message = decode(pb.RevokeRequest, data)
            return message, message.subjects

        return self._write("Revoke", request, checked, pb.RevokeResponse, context)

    def ReportOutcome(self, request: bytes, context: grpc.ServicerContext) -> pb.ReportOutcomeResponse:
        def checked(data: bytes) -> tuple[pb.ReportOutcomeRequest, Sequence[pb.Subject]]:
            message = decode(pb.ReportOutcomeRequest, data)
            return message, [message.subject]

        return self._write("ReportOutcome", request, checked, pb.ReportOutcomeResponse, context)

    def GetEntry(self, request: bytes, context: grpc.ServicerContext) -> pb.GetEntryResponse:
        with self._rpc("GetEntry", context) as rpc:
            rpc.count = 1
            caller = self._gate.caller(context)
            audit = rpc.audit(caller.partner, new_request_id())
            try:
                message = decode(pb.GetEntryRequest, request)
                audit.keys = self._audit_keys([message.subject], context)
                require_time_left(context)
                if self._entries is None:
                    raise NotImplementedError("GetEntry is not served by this server")
                entry, version = self._entries.get_entry(caller.partner, subject_from_proto(message.subject))
            except Exception as error:
                rpc.fail(error)
                abort(context, error)
            rpc.hits = int(entry.verdict.listed)
            audit.hits = [0] if entry.verdict.listed else []
            return entry_to_proto(entry, version, audit.request_id)

    def _write(
        self, method: str, request: bytes, checked: Callable[[bytes], tuple[RequestT, Sequence[pb.Subject]]],
        response_type: type[ResponseT], context: grpc.ServicerContext,
    ) -> ResponseT:
        """Hand a write call to the store's writer (in this process or over the writer link) once `checked`
        (size and count on the wire, then parsing) accepts the request's bytes: nothing is normalised
        or forwarded for a refused one."""
        with self._rpc(method, context) as rpc:
            caller = self._gate.caller(context)
            audit = rpc.audit(caller.partner, new_request_id())
            try:
                message, subjects = checked(request)
                keys = self._audit_keys(subjects, context)
                rpc.count = len(keys)
                audit.keys = keys
                require_time_left(context)
                if self._writes is None:
                    raise NotImplementedError(f"{method} is not served by this server")
                return self._writes.submit(method, caller, audit.request_id, message, response_type,
                                           timeout=context.time_remaining())
            except Exception as error:
                rpc.fail(error)
                abort(context, error)

    def _audit_keys(self, subjects: Sequence[pb.Subject], context: grpc.ServicerContext) -> list[bytes]:
        """Storage keys of the subjects that resolve, for the audit (the call itself reports bad ones); raw values
        cost the caller's subjects quota as in lookups, 8 each up front and the CPU of slow ones (core.subject_cost).

        A request over the batch limit is refused whole without looking at a subject, so none is
        normalised for it here either.
        """
        if len(subjects) > self._lookup.max_batch:
            return []
        converted: list[Subject] = [subject_from_proto(message) for message in subjects]
        keys = []
        with self._resolving(converted, context, lookups=False):
            for subject in converted:
                try:
                    keys.append(self._lookup.storage_key(subject))
                except (InvalidSubject, InvalidSubjects):
                    continue
        return keys

    def _batch(self, request: bytes, audit: AuditEntry, context: grpc.ServicerContext) -> pb.BatchCheckResponse:
        """The response to one BatchCheckRequest's bytes; `audit` gets its keys and hits; the
        subjects are charged to the caller's quota before any is looked up.

        The count is checked on the wire first (an all-digest request's by its length, its shape checked): a
        batch over max_batch is refused before any subject is unpacked, normalised or charged, and audited with
        its count (RpcLog.fail)."""
        maximum = self._lookup.max_batch
        if len(request) > maximum * RECORD_SIZE:  # more than `maximum` digests take: counted, if digests
            count = digest_count(request)
            if count is not None:
                raise BatchTooLarge(count, maximum)
        packed = packed_digest_keys(request)
        if packed is not None:
            self._gate.charge_subjects(context, len(packed) // KEY_SIZE)
            audit.keys = packed  # as stored: no join per batch
            hits, version = self._lookup.check_packed(packed)  # no bytes object per key
            hit_keys = [packed[index * KEY_SIZE : (index + 1) * KEY_SIZE] for index, _ in hits]
        else:
            require_at_most(request, 1, maximum, item_bytes=SUBJECT_BYTES, items="subjects",
                            message_type="risklist.v1.BatchCheckRequest")
            subjects = subjects_from_proto(decode(pb.BatchCheckRequest, request).subjects)
            with self._resolving(subjects, context, lookups=True):
                keys = self._lookup.storage_keys(subjects)
            audit.keys = keys
            hits, version = self._lookup.check_keys(keys)
            hit_keys = [keys[index] for index, _ in hits]
        audit.hits = [index for index, _ in hits]
        tokens = self._hit_tokens(audit, hit_keys)
        return pb.BatchCheckResponse(
            hits=[pb.Hit(index=index, verdict=verdict_to_proto(verdict), outcome_token=token)
                  for (index, verdict), token in zip(hits, tokens, strict=True)],
            list_version=version, request_id=audit.request_id,
        )

    def _storage_key(self, subject: Subject, context: grpc.ServicerContext) -> bytes:
        """Check's subject as a storage key; a raw value charged as _resolving says (a digest: nothing to time)."""
        if subject.value is None:
            return self._lookup.storage_key(subject)
        with self._resolving([subject], context, lookups=False):
            return self._lookup.storage_key(subject)

    @contextmanager
    def _resolving(self, subjects: Sequence[Subject], context: grpc.ServicerContext, *,
                   lookups: bool) -> Iterator[None]:
        """Charge the caller's subjects quota for resolving `subjects` (risklist_server.core.subject_cost): up front,
        8 a raw value in any call (so a member in debt is refused before anything is normalised) and 1 a digest
        in a batch lookup (`lookups`), QuotaExceeded if that does not fit; afterwards, the CPU that slow raw values
        took, also when resolving failed (rejecting a value can cost as much as normalising one)."""
        raw_values = len(subjects) - [subject.value for subject in subjects].count(None)
        upfront = subjects_charge(len(subjects) - raw_values if lookups else 0, raw_values)
        if upfront:
            self._gate.charge_subjects(context, upfront)
        started = time.thread_time()
        try:
            yield
        finally:
            self._gate.charge_normalising(context, len(subjects), raw_values, time.thread_time() - started)

    def _hit_tokens(self, audit: AuditEntry, hit_keys: Sequence[bytes]) -> list[bytes]:
        """The outcome tokens of an answer's hits (the storage keys that hit, in order) to the audited caller."""
        if self._tokens is None:
            return [b""] * len(hit_keys)
        return self._tokens.tokens(audit.partner, audit.request_id, hit_keys)
