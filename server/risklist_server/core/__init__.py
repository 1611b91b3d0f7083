"""The domain: identifiers, digests, records and verdicts. Imports neither grpc nor rocksdict."""
