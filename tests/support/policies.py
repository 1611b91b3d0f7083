"""Policy files the server-level tests run with."""

TRUSTED_SOURCE_POLICY = """
[[rule]]
action = "BLOCK"
reason_code = "BLOCK_TRUSTED_SOURCE"
min_source_precision = 0.9
allow_single_source = true

[default]
action = "REVIEW"
reason_code = "REVIEW_LISTED"
"""
"""A source with a proven track record (precision >= 0.9) may block on its own; anyone else's single report
is reviewed."""
