import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntityType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTITY_TYPE_UNSPECIFIED: _ClassVar[EntityType]
    ENTITY_TYPE_ACCOUNT: _ClassVar[EntityType]
    ENTITY_TYPE_CARD: _ClassVar[EntityType]
    ENTITY_TYPE_PHONE: _ClassVar[EntityType]
    ENTITY_TYPE_DEVICE: _ClassVar[EntityType]
    ENTITY_TYPE_ID_NUMBER: _ClassVar[EntityType]
    ENTITY_TYPE_IP: _ClassVar[EntityType]
    ENTITY_TYPE_EMAIL: _ClassVar[EntityType]

class RiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_LEVEL_UNSPECIFIED: _ClassVar[RiskLevel]
    RISK_LEVEL_LOW: _ClassVar[RiskLevel]
    RISK_LEVEL_MEDIUM: _ClassVar[RiskLevel]
    RISK_LEVEL_HIGH: _ClassVar[RiskLevel]
    RISK_LEVEL_CRITICAL: _ClassVar[RiskLevel]

class Category(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATEGORY_UNSPECIFIED: _ClassVar[Category]
    CATEGORY_TELECOM_FRAUD: _ClassVar[Category]
    CATEGORY_MONEY_MULE: _ClassVar[Category]
    CATEGORY_ACCOUNT_TAKEOVER: _ClassVar[Category]
    CATEGORY_IDENTITY_FRAUD: _ClassVar[Category]
    CATEGORY_GAMBLING: _ClassVar[Category]
    CATEGORY_MONEY_LAUNDERING: _ClassVar[Category]
    CATEGORY_SCAM_MERCHANT: _ClassVar[Category]
    CATEGORY_OTHER: _ClassVar[Category]

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_ALLOW: _ClassVar[Action]
    ACTION_REVIEW: _ClassVar[Action]
    ACTION_BLOCK: _ClassVar[Action]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_CONFIRMED_FRAUD: _ClassVar[Outcome]
    OUTCOME_FALSE_POSITIVE: _ClassVar[Outcome]
    OUTCOME_CUSTOMER_EXPLAINED: _ClassVar[Outcome]
    OUTCOME_UNKNOWN: _ClassVar[Outcome]

class LoadMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOAD_MODE_UNSPECIFIED: _ClassVar[LoadMode]
    LOAD_MODE_DELTA: _ClassVar[LoadMode]
    LOAD_MODE_SNAPSHOT: _ClassVar[LoadMode]

class MutationAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MUTATION_ACTION_UNSPECIFIED: _ClassVar[MutationAction]
    MUTATION_ACTION_ADD: _ClassVar[MutationAction]
    MUTATION_ACTION_REMOVE: _ClassVar[MutationAction]
ENTITY_TYPE_UNSPECIFIED: EntityType
ENTITY_TYPE_ACCOUNT: EntityType
ENTITY_TYPE_CARD: EntityType
ENTITY_TYPE_PHONE: EntityType
ENTITY_TYPE_DEVICE: EntityType
ENTITY_TYPE_ID_NUMBER: EntityType
ENTITY_TYPE_IP: EntityType
ENTITY_TYPE_EMAIL: EntityType
RISK_LEVEL_UNSPECIFIED: RiskLevel
RISK_LEVEL_LOW: RiskLevel
RISK_LEVEL_MEDIUM: RiskLevel
RISK_LEVEL_HIGH: RiskLevel
RISK_LEVEL_CRITICAL: RiskLevel
CATEGORY_UNSPECIFIED: Category
CATEGORY_TELECOM_FRAUD: Category
CATEGORY_MONEY_MULE: Category
CATEGORY_ACCOUNT_TAKEOVER: Category
CATEGORY_IDENTITY_FRAUD: Category
CATEGORY_GAMBLING: Category
CATEGORY_MONEY_LAUNDERING: Category
CATEGORY_SCAM_MERCHANT: Category
CATEGORY_OTHER: Category
ACTION_UNSPECIFIED: Action
ACTION_ALLOW: Action
ACTION_REVIEW: Action
ACTION_BLOCK: Action
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_CONFIRMED_FRAUD: Outcome
OUTCOME_FALSE_POSITIVE: Outcome
OUTCOME_CUSTOMER_EXPLAINED: Outcome
OUTCOME_UNKNOWN: Outcome
LOAD_MODE_UNSPECIFIED: LoadMode
LOAD_MODE_DELTA: LoadMode
LOAD_MODE_SNAPSHOT: LoadMode
MUTATION_ACTION_UNSPECIFIED: MutationAction
MUTATION_ACTION_ADD: MutationAction
MUTATION_ACTION_REMOVE: MutationAction

class Subject(_message.Message):
    __slots__ = ("type", "value", "digest")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    type: EntityType
    value: str
    digest: bytes
    def __init__(self, type: _Optional[_Union[EntityType, str]] = ..., value: _Optional[str] = ..., digest: _Optional[bytes] = ...) -> None: ...

class Verdict(_message.Message):
    __slots__ = ("listed", "level", "categories", "source_count", "report_count", "first_reported", "last_reported", "expires_at", "action", "reason_code", "policy_version")
    LISTED_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPORT_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_REPORTED_FIELD_NUMBER: _ClassVar[int]
    LAST_REPORTED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    listed: bool
    level: RiskLevel
    categories: _containers.RepeatedScalarFieldContainer[Category]
    source_count: int
    report_count: int
    first_reported: _timestamp_pb2.Timestamp
    last_reported: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    action: Action
    reason_code: str
    policy_version: str
    def __init__(self, listed: _Optional[bool] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., categories: _Optional[_Iterable[_Union[Category, str]]] = ..., source_count: _Optional[int] = ..., report_count: _Optional[int] = ..., first_reported: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_reported: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[_Union[Action, str]] = ..., reason_code: _Optional[str] = ..., policy_version: _Optional[str] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: Subject
    def __init__(self, subject: _Optional[_Union[Subject, _Mapping]] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("verdict", "list_version", "request_id", "outcome_token")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    list_version: int
    request_id: str
    outcome_token: bytes
    def __init__(self, verdict: _Optional[_Union[Verdict, _Mapping]] = ..., list_version: _Optional[int] = ..., request_id: _Optional[str] = ..., outcome_token: _Optional[bytes] = ...) -> None: ...

class BatchCheckRequest(_message.Message):
    __slots__ = ("subjects",)
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    def __init__(self, subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("index", "verdict", "outcome_token")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    index: int
    verdict: Verdict
    outcome_token: bytes
    def __init__(self, index: _Optional[int] = ..., verdict: _Optional[_Union[Verdict, _Mapping]] = ..., outcome_token: _Optional[bytes] = ...) -> None: ...

class BatchCheckResponse(_message.Message):
    __slots__ = ("hits", "list_version", "request_id")
    HITS_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    list_version: int
    request_id: str
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., list_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("subject", "category", "level", "reference", "expires_at")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    subject: Subject
    category: Category
    level: RiskLevel
    reference: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, subject: _Optional[_Union[Subject, _Mapping]] = ..., category: _Optional[_Union[Category, str]] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., reference: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("reports",)
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[Report]
    def __init__(self, reports: _Optional[_Iterable[_Union[Report, _Mapping]]] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("added", "unchanged", "list_version", "request_id")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    added: int
    unchanged: int
    list_version: int
    request_id: str
    def __init__(self, added: _Optional[int] = ..., unchanged: _Optional[int] = ..., list_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class RevokeRequest(_message.Message):
    __slots__ = ("subjects", "category")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    category: Category
    def __init__(self, subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ..., category: _Optional[_Union[Category, str]] = ...) -> None: ...

class RevokeResponse(_message.Message):
    __slots__ = ("removed", "not_listed", "list_version", "request_id")
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    NOT_LISTED_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    removed: int
    not_listed: int
    list_version: int
    request_id: str
    def __init__(self, removed: _Optional[int] = ..., not_listed: _Optional[int] = ..., list_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetEntryRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: Subject
    def __init__(self, subject: _Optional[_Union[Subject, _Mapping]] = ...) -> None: ...

class EntryContribution(_message.Message):
    __slots__ = ("source", "own", "category", "level", "reported_at", "expires_at", "reference")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OWN_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    source: str
    own: bool
    category: Category
    level: RiskLevel
    reported_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    reference: str
    def __init__(self, source: _Optional[str] = ..., own: _Optional[bool] = ..., category: _Optional[_Union[Category, str]] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., reported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reference: _Optional[str] = ...) -> None: ...

class GetEntryResponse(_message.Message):
    __slots__ = ("verdict", "contributions", "sources_disclosed", "list_version", "request_id")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_DISCLOSED_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    contributions: _containers.RepeatedCompositeFieldContainer[EntryContribution]
    sources_disclosed: bool
    list_version: int
    request_id: str
    def __init__(self, verdict: _Optional[_Union[Verdict, _Mapping]] = ..., contributions: _Optional[_Iterable[_Union[EntryContribution, _Mapping]]] = ..., sources_disclosed: _Optional[bool] = ..., list_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReportOutcomeRequest(_message.Message):
    __slots__ = ("hit_request_id", "subject", "outcome", "hit_token")
    HIT_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HIT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hit_request_id: str
    subject: Subject
    outcome: Outcome
    hit_token: bytes
    def __init__(self, hit_request_id: _Optional[str] = ..., subject: _Optional[_Union[Subject, _Mapping]] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., hit_token: _Optional[bytes] = ...) -> None: ...

class ReportOutcomeResponse(_message.Message):
    __slots__ = ("sources_credited", "request_id")
    SOURCES_CREDITED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    sources_credited: int
    request_id: str
    def __init__(self, sources_credited: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetFilterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FilterParameters(_message.Message):
    __slots__ = ("algorithm", "word_count", "bits_per_key", "false_positive_rate")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    WORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    BITS_PER_KEY_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_RATE_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    word_count: int
    bits_per_key: int
    false_positive_rate: float
    def __init__(self, algorithm: _Optional[str] = ..., word_count: _Optional[int] = ..., bits_per_key: _Optional[int] = ..., false_positive_rate: _Optional[float] = ...) -> None: ...

class FilterHeader(_message.Message):
    __slots__ = ("version", "parameters", "total_bytes", "key_count", "secret_fingerprint", "list_id")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    KEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    SECRET_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    LIST_ID_FIELD_NUMBER: _ClassVar[int]
    version: int
    parameters: FilterParameters
    total_bytes: int
    key_count: int
    secret_fingerprint: str
    list_id: str
    def __init__(self, version: _Optional[int] = ..., parameters: _Optional[_Union[FilterParameters, _Mapping]] = ..., total_bytes: _Optional[int] = ..., key_count: _Optional[int] = ..., secret_fingerprint: _Optional[str] = ..., list_id: _Optional[str] = ...) -> None: ...

class FilterTrailer(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: bytes
    def __init__(self, sha256: _Optional[bytes] = ...) -> None: ...

class FilterChunk(_message.Message):
    __slots__ = ("header", "data", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: FilterHeader
    data: bytes
    trailer: FilterTrailer
    def __init__(self, header: _Optional[_Union[FilterHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., trailer: _Optional[_Union[FilterTrailer, _Mapping]] = ...) -> None: ...

class GetFilterUpdatesRequest(_message.Message):
    __slots__ = ("since_version",)
    SINCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    since_version: int
    def __init__(self, since_version: _Optional[int] = ...) -> None: ...

class FilterUpdate(_message.Message):
    __slots__ = ("version", "reset", "added_keys", "removed_count", "removed_keys", "secret_fingerprint", "list_id")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    ADDED_KEYS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_KEYS_FIELD_NUMBER: _ClassVar[int]
    SECRET_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    LIST_ID_FIELD_NUMBER: _ClassVar[int]
    version: int
    reset: bool
    added_keys: bytes
    removed_count: int
    removed_keys: bytes
    secret_fingerprint: str
    list_id: str
    def __init__(self, version: _Optional[int] = ..., reset: _Optional[bool] = ..., added_keys: _Optional[bytes] = ..., removed_count: _Optional[int] = ..., removed_keys: _Optional[bytes] = ..., secret_fingerprint: _Optional[str] = ..., list_id: _Optional[str] = ...) -> None: ...

class GetNetworkInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNetworkInfoResponse(_message.Message):
    __slots__ = ("secret_fingerprint", "list_version", "demo_secret", "request_id", "list_id")
    SECRET_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEMO_SECRET_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LIST_ID_FIELD_NUMBER: _ClassVar[int]
    secret_fingerprint: str
    list_version: int
    demo_secret: bool
    request_id: str
    list_id: str
    def __init__(self, secret_fingerprint: _Optional[str] = ..., list_version: _Optional[int] = ..., demo_secret: _Optional[bool] = ..., request_id: _Optional[str] = ..., list_id: _Optional[str] = ...) -> None: ...

class Mutation(_message.Message):
    __slots__ = ("action", "type", "digest", "category", "level", "reported_at", "expires_at", "reference")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    action: MutationAction
    type: EntityType
    digest: bytes
    category: Category
    level: RiskLevel
    reported_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    reference: str
    def __init__(self, action: _Optional[_Union[MutationAction, str]] = ..., type: _Optional[_Union[EntityType, str]] = ..., digest: _Optional[bytes] = ..., category: _Optional[_Union[Category, str]] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., reported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reference: _Optional[str] = ...) -> None: ...

class IngestStart(_message.Message):
    __slots__ = ("source", "mode", "secret_fingerprint")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SECRET_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    source: str
    mode: LoadMode
    secret_fingerprint: str
    def __init__(self, source: _Optional[str] = ..., mode: _Optional[_Union[LoadMode, str]] = ..., secret_fingerprint: _Optional[str] = ...) -> None: ...

class IngestBatch(_message.Message):
    __slots__ = ("mutations",)
    MUTATIONS_FIELD_NUMBER: _ClassVar[int]
    mutations: _containers.RepeatedCompositeFieldContainer[Mutation]
    def __init__(self, mutations: _Optional[_Iterable[_Union[Mutation, _Mapping]]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("start", "batch")
    START_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    start: IngestStart
    batch: IngestBatch
    def __init__(self, start: _Optional[_Union[IngestStart, _Mapping]] = ..., batch: _Optional[_Union[IngestBatch, _Mapping]] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("added", "unchanged", "removed", "not_listed", "swept", "list_version")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    NOT_LISTED_FIELD_NUMBER: _ClassVar[int]
    SWEPT_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    added: int
    unchanged: int
    removed: int
    not_listed: int
    swept: int
    list_version: int
    def __init__(self, added: _Optional[int] = ..., unchanged: _Optional[int] = ..., removed: _Optional[int] = ..., not_listed: _Optional[int] = ..., swept: _Optional[int] = ..., list_version: _Optional[int] = ...) -> None: ...

class OutcomeCounts(_message.Message):
    __slots__ = ("confirmed_fraud", "false_positive", "customer_explained", "unknown")
    CONFIRMED_FRAUD_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_EXPLAINED_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    confirmed_fraud: int
    false_positive: int
    customer_explained: int
    unknown: int
    def __init__(self, confirmed_fraud: _Optional[int] = ..., false_positive: _Optional[int] = ..., customer_explained: _Optional[int] = ..., unknown: _Optional[int] = ...) -> None: ...

class SourceQuality(_message.Message):
    __slots__ = ("source", "confirmed_fraud", "false_positive", "customer_explained", "unknown", "precision", "precision_known", "live_contributions", "legacy_unverified")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FRAUD_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_EXPLAINED_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    PRECISION_KNOWN_FIELD_NUMBER: _ClassVar[int]
    LIVE_CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    LEGACY_UNVERIFIED_FIELD_NUMBER: _ClassVar[int]
    source: str
    confirmed_fraud: int
    false_positive: int
    customer_explained: int
    unknown: int
    precision: float
    precision_known: bool
    live_contributions: int
    legacy_unverified: OutcomeCounts
    def __init__(self, source: _Optional[str] = ..., confirmed_fraud: _Optional[int] = ..., false_positive: _Optional[int] = ..., customer_explained: _Optional[int] = ..., unknown: _Optional[int] = ..., precision: _Optional[float] = ..., precision_known: _Optional[bool] = ..., live_contributions: _Optional[int] = ..., legacy_unverified: _Optional[_Union[OutcomeCounts, _Mapping]] = ...) -> None: ...

class GetQualityRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetQualityResponse(_message.Message):
    __slots__ = ("sources",)
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[SourceQuality]
    def __init__(self, sources: _Optional[_Iterable[_Union[SourceQuality, _Mapping]]] = ...) -> None: ...

class BackupRequest(_message.Message):
    __slots__ = ("directory",)
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    directory: str
    def __init__(self, directory: _Optional[str] = ...) -> None: ...

class BackupResponse(_message.Message):
    __slots__ = ("list_version", "files", "bytes", "secret_fingerprint")
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    SECRET_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    list_version: int
    files: int
    bytes: int
    secret_fingerprint: str
    def __init__(self, list_version: _Optional[int] = ..., files: _Optional[int] = ..., bytes: _Optional[int] = ..., secret_fingerprint: _Optional[str] = ...) -> None: ...
