"""risklist server: core domain, RocksDB store with a Bloom front, and gRPC adapters."""
