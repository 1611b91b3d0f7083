"""Storage: RocksDB via rocksdict, the Bloom front and the changelog. No grpc here."""
