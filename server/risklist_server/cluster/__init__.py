"""Cluster mode (issue 14): the network's writes through a replicated NATS JetStream log, applied by every node.

write_log: the stream (append with de-duplication, ordered reads); log_entry: one write as logged; applier: a
node applying the log in order; stream_writes: the WriteGateway that appends a call and answers once this node
applied it. Not yet wired into risklist-server (no --cluster flag yet).
"""
