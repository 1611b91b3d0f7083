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
    __slots__ = ("listed", "level", "categories", "source_count", "report_count", "first_reported", "last_reported", "expires_at")
    LISTED_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPORT_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_REPORTED_FIELD_NUMBER: _ClassVar[int]
    LAST_REPORTED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    listed: bool
    level: RiskLevel
    categories: _containers.RepeatedScalarFieldContainer[Category]
    source_count: int
    report_count: int
    first_reported: _timestamp_pb2.Timestamp
    last_reported: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, listed: _Optional[bool] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., categories: _Optional[_Iterable[_Union[Category, str]]] = ..., source_count: _Optional[int] = ..., report_count: _Optional[int] = ..., first_reported: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_reported: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: Subject
    def __init__(self, subject: _Optional[_Union[Subject, _Mapping]] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("verdict", "list_version")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    list_version: int
    def __init__(self, verdict: _Optional[_Union[Verdict, _Mapping]] = ..., list_version: _Optional[int] = ...) -> None: ...

class BatchCheckRequest(_message.Message):
    __slots__ = ("subjects",)
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    def __init__(self, subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("index", "verdict")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    index: int
    verdict: Verdict
    def __init__(self, index: _Optional[int] = ..., verdict: _Optional[_Union[Verdict, _Mapping]] = ...) -> None: ...

class BatchCheckResponse(_message.Message):
    __slots__ = ("hits", "list_version")
    HITS_FIELD_NUMBER: _ClassVar[int]
    LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    list_version: int
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., list_version: _Optional[int] = ...) -> None: ...

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
