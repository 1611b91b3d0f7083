"""Cluster mode (issue 14, docs/cluster.md): the network's writes through a replicated NATS JetStream log, applied by
every node.

config: the --cluster flags; write_log: the stream (append with de-duplication, ordered reads, the network it
belongs to); log_entry: one write as logged; applier: a node applying the log in order; stream_writes: the
WriteGateway that appends a call and answers once this node applied it; node: a server's ClusterNode (its
gateway, applier and whether it may serve).
"""
