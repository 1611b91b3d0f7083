# risklist — the two commands a newcomer runs: `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := .demo
LISTEN ?= 127.0.0.1:50051
ADMIN  ?= 127.0.0.1:50052

CERTS  := $(DEMO)/certs
PARTNERS ?= docs/examples/partners.toml
DEMO_PARTNER ?= east-harbour-bank

.PHONY: install serve cluster demo-store demo-certs test test-tools lint proto bench bench-quick bench-tools seeds clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ./client -e '.[dev]'
	touch $@

install: $(VENV)/.installed

$(DEMO)/network.secret: | $(BIN)/python
	mkdir -p $(DEMO)
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@

# The demo store: every seed feed of every fictional bank, loaded in delta mode. The feeds are
# seeds/ dated as of $(ANCHOR) (seeds/generate.py --anchor: the same rows, every date moved by the
# same number of days), so the demo answers the same whatever day it is built. The seeds carry a few
# deliberately bad rows, so the loader exits 3 (applied with rejects).
ANCHOR ?= today
demo-store: install $(DEMO)/network.secret
	rm -rf $(DEMO)/db $(DEMO)/db-audit $(DEMO)/rejects $(DEMO)/seeds && mkdir -p $(DEMO)/rejects
	$(BIN)/python seeds/generate.py --anchor $(ANCHOR) --out $(DEMO)/seeds > /dev/null
	@for feed in $(DEMO)/seeds/*.csv $(DEMO)/seeds/*.jsonl; do \
	  bank=$$(basename $$feed | cut -d. -f1); \
	  $(BIN)/risklist-load $$feed --source $$bank --db $(DEMO)/db \
	    --secret-file $(DEMO)/network.secret --rejects $(DEMO)/rejects/$$(basename $$feed).rejects \
	    --quiet; rc=$$?; \
	  if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then echo "loading $$feed failed ($$rc)"; exit $$rc; fi; \
	done

# Development certificates for the demo network: a CA, the server, and one client
# certificate per partner of $(PARTNERS) (the partner id is the certificate's CN). Issued afresh
# each time, like the demo store, so a demo built a year later never serves expired ones.
demo-certs: install
	rm -rf $(CERTS)
	$(BIN)/risklist-admin certs --out $(CERTS) --partner east-harbour-bank --partner jade-river-bank \
	  --partner north-plains-credit --partner operator

serve: demo-store demo-certs
	@echo
	@echo "risklist demo server on $(LISTEN) (admin ingest on $(ADMIN)), mutual TLS; members in $(PARTNERS)."
	@echo "In another terminal, as partner $(DEMO_PARTNER):"
	@echo "  $(BIN)/risklist-check --server $(LISTEN) --ca $(CERTS)/ca.pem --cert $(CERTS)/$(DEMO_PARTNER).pem \\"
	@echo "    --key $(CERTS)/$(DEMO_PARTNER).key --type phone +8613800138000"
	@echo
	RISKLIST_SECRET_FILE=$(DEMO)/network.secret exec $(BIN)/risklist-server \
	  --db $(DEMO)/db --listen $(LISTEN) --admin-listen $(ADMIN) \
	  --tls-cert $(CERTS)/server.pem --tls-key $(CERTS)/server.key --client-ca $(CERTS)/ca.pem \
	  --partners $(PARTNERS)

# A local demo cluster (docs/cluster.md): three nats-servers and three risklist nodes, the seeds (dated as
# demo-store's) loaded through node-1 into every node; prints a query that answers the same on each.
CLUSTER_PORT ?= 50061
cluster: install demo-certs $(DEMO)/network.secret
	./tools/ensure_debian_tools.sh nats-server:nats-server
	rm -rf $(DEMO)/cluster-seeds
	$(BIN)/python seeds/generate.py --anchor $(ANCHOR) --out $(DEMO)/cluster-seeds > /dev/null
	$(BIN)/python -m tools.cluster_demo --dir $(DEMO)/cluster --secret-file $(DEMO)/network.secret \
	  --certs $(CERTS) --partners $(PARTNERS) --seeds $(DEMO)/cluster-seeds --base-port $(CLUSTER_PORT) $(CLUSTER_FLAGS)

# Two pytest workers (pytest-xdist): the suite is mostly real servers and CLIs in subprocesses.
test: install test-tools
	$(BIN)/python -m pytest -n 2

# Debian tools the tests run for real, installed if missing: nats-server (the cluster tests' JetStream), h2load
# and redis-server with redis-benchmark (the benchmark harness's native load generators and Redis peer).
test-tools:
	./tools/ensure_debian_tools.sh nats-server:nats-server h2load:nghttp2-client redis-server:redis-server faketime:faketime

lint: install
	$(BIN)/ruff check kernel client server loader tests benchmarks seeds tools
	$(BIN)/mypy

proto: install
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto \
	  --grpc_python_out=proto proto/risklist/v1/risklist.proto
	$(BIN)/python -m grpc_tools.protoc -Iproto -Iserver --python_out=server --pyi_out=server \
	  server/risklist_server/cluster/log_messages.proto

# Debian tools the harness drives: h2load (nghttp2-client) and redis-server; installed if missing.
bench-tools:
	./benchmarks/install_tools.sh

# The full harness (benchmarks/harness.py): 10M entries, 3 runs, medians; writes benchmarks/results/
# harness.{json,md,png} and the harness section of benchmarks/RESULTS.md. Data is cached in benchmarks/data/.
# Other sizes: make bench BENCH_ENTRIES=1M BENCH_RUNS=3 (BENCH_ARGS passes more, e.g. --scenarios check,batch).
BENCH_ENTRIES ?= 10M
BENCH_RUNS ?= 3
BENCH_ARGS ?=
bench: install bench-tools
	$(BIN)/pip install --quiet -e ./client -e '.[bench]'
	$(BIN)/python -m benchmarks.harness --entries $(BENCH_ENTRIES) --runs $(BENCH_RUNS) $(BENCH_ARGS)

# The same scenarios on a 200k-entry store, 1 run, short measurements (< 3 minutes); *.quick.* outputs.
bench-quick: install bench-tools
	$(BIN)/pip install --quiet -e ./client -e '.[bench]'
	$(BIN)/python -m benchmarks.harness --quick

seeds: install
	$(BIN)/python seeds/generate.py

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info .pytest_cache .mypy_cache .hypothesis
