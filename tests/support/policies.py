"""Policy files the server-level and cluster tests run with."""

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

BLOCK_HIGH = """\
[[rule]]
action = "BLOCK"
reason_code = "BLOCK_ANY_HIGH"
min_level = "high"
allow_single_source = true

[default]
action = "REVIEW"
reason_code = "REVIEW_LISTED"
"""
"""Blocks on one bank's HIGH report, where the built-in policy only reviews it."""
