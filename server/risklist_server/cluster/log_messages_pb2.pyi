from risklist.v1 import risklist_pb2 as _risklist_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestStep(_message.Message):
    __slots__ = ("start", "batch", "finish", "number")
    START_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    start: _risklist_pb2.IngestStart
    batch: _risklist_pb2.IngestBatch
    finish: bool
    number: int
    def __init__(self, start: _Optional[_Union[_risklist_pb2.IngestStart, _Mapping]] = ..., batch: _Optional[_Union[_risklist_pb2.IngestBatch, _Mapping]] = ..., finish: _Optional[bool] = ..., number: _Optional[int] = ...) -> None: ...

class ExpiryPurge(_message.Message):
    __slots__ = ("start", "limit")
    START_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    start: bytes
    limit: int
    def __init__(self, start: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...

class ExpiryPurgeResult(_message.Message):
    __slots__ = ("scanned", "purged", "next_key")
    SCANNED_FIELD_NUMBER: _ClassVar[int]
    PURGED_FIELD_NUMBER: _ClassVar[int]
    NEXT_KEY_FIELD_NUMBER: _ClassVar[int]
    scanned: int
    purged: int
    next_key: bytes
    def __init__(self, scanned: _Optional[int] = ..., purged: _Optional[int] = ..., next_key: _Optional[bytes] = ...) -> None: ...
