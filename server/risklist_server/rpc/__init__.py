"""gRPC adapters: protobuf <-> core, status mapping, server factories."""
