"""The risklist kernel: identifiers, digests, the network secret, enums, errors and the filter layout.

Pure Python (no grpc, no numpy, no RocksDB): the partner SDK (risklist_client) and the server
(risklist_server) both build on it, and neither re-exports it. Import from the modules.
"""
