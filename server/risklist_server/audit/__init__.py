"""The audit trail: who looked up, reported, revoked or ingested which subjects, and when."""
