"""risklist-server and risklist-check as real subprocesses on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.store.front_file import SavedFront, load_front
from risklist_server.store.reads import FRONT_FILE
from risklist_server.store.risk_store import init_store
from risklist_server.store.store_id import front_owner_of_store
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.running_server import BIN, ServerProcess, start_server


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=60,
                          env=env if env is not None else dict(os.environ), stdin=subprocess.DEVNULL)


def _ingest_phone(server: ServerProcess, secret: NetworkSecret, raw_canonical: str = PHONE) -> None:
    ingest_phone(server.admin_address, secret, raw_canonical)


def test_check_cli_prints_a_listed_verdict_as_json(server_process: ServerProcess, secret: NetworkSecret) -> None:
    """After an ingest, risklist-check shows the verdict, the policy's action and version, and the request id."""
    _ingest_phone(server_process, secret)
    result = _run("risklist-check", "--insecure",
                  "--server", server_process.address, "--type", "phone", "138 0013 8000", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["listed"] is True and document["level"] == "high"
    assert document["categories"] == ["telecom_fraud"] and document["list_version"] == 1
    assert (document["action"], document["reason_code"]) == ("review", "REVIEW_HIGH_RISK")
    assert document["policy_version"] == "built-in"
    assert len(document["request_id"]) == 24
    human = _run("risklist-check", "--insecure",
                 "--server", server_process.address, "--type", "phone", "+86 138-0013-8000")
    assert human.stdout.startswith("LISTED  action=review (REVIEW_HIGH_RISK)")
    assert "request " in human.stdout


def test_check_cli_local_digest_and_errors(server_process: ServerProcess, secret: NetworkSecret,
                                          secret_file: Path) -> None:
    """--local-digest gives the same answer; an invalid value and a dead server exit non-zero clearly."""
    _ingest_phone(server_process, secret)
    local = _run("risklist-check", "--insecure", "--server", server_process.address, "--type", "phone", "13800138000",
                 "--local-digest", "--secret-file", str(secret_file), "--json")
    assert json.loads(local.stdout)["listed"] is True
    bad = _run("risklist-check", "--insecure", "--server", server_process.address, "--type", "card", "1234")
    assert bad.returncode == 2 and "invalid card identifier" in bad.stderr and "Traceback" not in bad.stderr
    server_process.terminate()
    dead = _run("risklist-check", "--insecure",
                "--server", server_process.address, "--type", "card", "4111111111111111",
                "--timeout", "2")
    assert dead.returncode == 1 and "UNAVAILABLE" in dead.stderr and "Traceback" not in dead.stderr


def test_sigterm_drains_persists_the_front_and_logs_no_identifier(
    server_process: ServerProcess, secret: NetworkSecret, tmp_path: Path
) -> None:
    """SIGTERM exits 0 after saving the front at the served version; logs carry no raw value."""
    _ingest_phone(server_process, secret)
    _run("risklist-check", "--insecure", "--server", server_process.address, "--type", "phone", "138 0013 8000")
    assert server_process.terminate() == 0
    events = [line["event"] for line in server_process.log_lines]
    assert "stop_requested" in events and events[-1] == "stopped"
    rpc_lines = [line for line in server_process.log_lines if line["event"] == "rpc"]
    assert {line["method"] for line in rpc_lines} >= {"Ingest", "Check"}
    assert all({"count", "hits", "latency_ms", "status"} <= set(line) for line in rpc_lines)
    text = json.dumps(server_process.log_lines)
    assert "13800138000" not in text and "138 0013" not in text and secret.key.hex() not in text
    served = tmp_path / "served-db"
    saved = load_front(served / FRONT_FILE, front_owner_of_store(served, secret.fingerprint))
    assert isinstance(saved, SavedFront) and saved.covered_sequence == 1


def test_restart_catches_the_front_up_from_the_changelog(tmp_path: Path, secret: NetworkSecret,
                                                        secret_file: Path) -> None:
    """A server killed with SIGKILL after a write still answers listed after restart."""
    db = tmp_path / "db"
    first = start_server(db, secret_file)
    _ingest_phone(first, secret)
    first.terminate(sig=signal.SIGKILL)
    second = start_server(db, secret_file)
    try:
        result = _run("risklist-check", "--insecure", "--server", second.address, "--type", "phone", PHONE, "--json")
        assert json.loads(result.stdout)["listed"] is True
        assert any(line["event"] == "front_rebuild" or line["event"] == "front_loaded"
                   for line in second.log_lines)
    finally:
        second.terminate()


def test_server_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    """No --secret-file, no environment variable, no --demo: a clear refusal, exit 1."""
    env = {key: value for key, value in os.environ.items() if key != "RISKLIST_SECRET_FILE"}
    result = _run("risklist-server", "--db", str(tmp_path / "db"), "--listen", "127.0.0.1:0",
                  "--admin-listen", "127.0.0.1:0", "--insecure-dev", env=env)
    assert result.returncode == 1
    assert "no network secret" in result.stderr and "--secret-file" in result.stderr
    assert "Traceback" not in result.stderr


def test_server_reads_the_secret_file_from_the_environment(tmp_path: Path, secret_file: Path) -> None:
    """RISKLIST_SECRET_FILE stands in for --secret-file; a wrong secret for the store is refused."""
    db = tmp_path / "db"
    started = start_server(db, secret_file)
    started.terminate()
    other = tmp_path / "other.secret"
    write_secret(other, NetworkSecret(os.urandom(32)))
    env = dict(os.environ, RISKLIST_SECRET_FILE=str(other))
    result = _run("risklist-server", "--db", str(db), "--listen", "127.0.0.1:0", "--admin-listen",
                  "127.0.0.1:0", "--insecure-dev", env=env)
    assert result.returncode == 1 and "another network secret" in result.stderr


def test_server_refuses_a_port_in_use(tmp_path: Path, secret_file: Path, server_process: ServerProcess) -> None:
    """A second server on the same port fails clearly instead of sharing it."""
    _run("risklist-admin", "init-store", "--db", str(tmp_path / "db2"), "--secret-file", str(secret_file))
    result = _run("risklist-server", "--db", str(tmp_path / "db2"), "--secret-file", str(secret_file),
                  "--listen", server_process.address, "--admin-listen", "127.0.0.1:0", "--insecure-dev")
    assert result.returncode == 1 and "cannot listen on" in result.stderr


def test_demo_mode_starts_with_a_loud_warning(tmp_path: Path) -> None:
    """--demo serves without a secret file and logs that the public demo secret is in use."""
    init_store(tmp_path / "db", NetworkSecret.demo().fingerprint)
    env = {key: value for key, value in os.environ.items() if key != "RISKLIST_SECRET_FILE"}
    process = subprocess.Popen(
        [str(BIN / "risklist-server"), "--db", str(tmp_path / "db"), "--demo", "--listen", "127.0.0.1:0",
         "--admin-listen", "127.0.0.1:0", "--log-format", "json", "--insecure-dev"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert process.stderr is not None
    events = []
    for line in process.stderr:
        events.append(json.loads(line))
        if events[-1]["event"] == "serving":
            break
    process.send_signal(signal.SIGTERM)
    process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=20) == 0
    warning = next(event for event in events if event["event"] == "demo_mode")
    assert warning["level"] == "warning" and "never load real data" in str(warning["detail"])


def test_demo_and_secret_file_exclude_each_other(tmp_path: Path, secret_file: Path) -> None:
    """Asking for both the demo secret and a real one is a usage error, exit 2."""
    result = _run("risklist-server", "--db", str(tmp_path / "db"), "--demo", "--secret-file", str(secret_file))
    assert result.returncode == 2 and "exclude each other" in result.stderr


def test_sigterm_always_stops_the_server(tmp_path: Path, secret_file: Path) -> None:
    """SIGTERM stops the server every time, sent right after start-up or while RPCs were served."""
    for cycle in range(8):
        running = start_server(tmp_path / "db", secret_file)
        if cycle % 2:
            with grpc.insecure_channel(running.address) as channel:
                subject = pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.1")
                pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=subject), timeout=5)
        assert running.terminate(timeout=15) == 0, f"cycle {cycle}"


def test_the_light_cli_module_names_the_same_choices_and_signals_as_the_workers() -> None:
    """The CLI's copies of the front choices and signal sets (kept light of grpc) match what the workers use."""
    from risklist_server.cli import server as cli
    from risklist_server.process.supervisor import WAITED_SIGNALS
    from risklist_server.process.workers import FRONT_POLICIES, STOP_SIGNALS

    assert set(cli.FRONT_CHOICES) == set(FRONT_POLICIES) and set(cli.STOP_SIGNALS) == STOP_SIGNALS
    assert cli.SUPERVISOR_SIGNALS == WAITED_SIGNALS


def test_by_default_only_failed_rpcs_are_logged(tmp_path: Path, secret_file: Path) -> None:
    """Without --rpc-log all, a successful check writes no log line and a refused one does."""
    running = start_server(tmp_path / "db", secret_file)
    try:
        with grpc.insecure_channel(running.address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            stub.Check(pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.1")), timeout=5)
            try:
                stub.Check(pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_IP, value="nope")), timeout=5)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        assert running.terminate() == 0
    rpc_lines = [line for line in running.log_lines if line["event"] == "rpc"]
    assert [line["status"] for line in rpc_lines] == ["INVALID_ARGUMENT"]


def test_a_bad_config_file_stops_the_start_before_any_worker(tmp_path: Path, secret_file: Path) -> None:
    """A --config with a bad value: exit 1 with one error naming the file and the key, and no worker started."""
    config = tmp_path / "settings.toml"
    config.write_text("max_batch = 0\n")
    result = _run("risklist-server", "--db", str(tmp_path / "db"), "--secret-file", str(secret_file),
                  "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--workers", "2", "--insecure-dev",
                  "--log-format", "json", "--config", str(config))
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("risklist-server: error:")]
    assert len(errors) == 1 and str(config) in errors[0] and "max_batch" in errors[0], result.stderr
    events = [json.loads(line).get("event") for line in result.stderr.splitlines() if line.startswith("{")]
    assert "worker_started" not in events and "Traceback" not in result.stderr
