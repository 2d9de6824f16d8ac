"""The MLflow client's ``log_batch`` throughput against labledger's MLflow-compatible endpoint
versus MLflow's own server (``mlflow server`` on its default SQLite store), side by side.

    python bench/mlflow_endpoint.py [--batches 30] [--metrics 1000] [--single 300]

Both servers run as processes on loopback with one worker, each on a SQLite file in a
temporary folder; the same client code (``MlflowClient.log_batch`` with 1,000 metrics per
call, MLflow's per-request limit, and ``log_metric`` one point per request) runs against each
in alternating rounds. Reports points/s, requests/s and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CLI = "from labledger.cli.main import main; main()"
SRC = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not start:\n{log.read_text()}")


def start_labledger(folder: Path) -> tuple[str, subprocess.Popen[bytes]]:
    log = folder / "labledger.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
    env["PYTHONPATH"] = f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}"
    db = f"sqlite:///{folder / 'labledger.db'}"
    args = ["--db", db, "--artifacts", str(folder / "blobs"), "--no-auth", "--port", "0"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "server", "--host", "127.0.0.1", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://[0-9.]+:\d+)", log.read_text())
        if found:
            url = found.group(1)
            wait_for(f"{url}/api/health", process, log)
            return url, process
        time.sleep(0.1)
    raise SystemExit(f"labledger server did not start:\n{log.read_text()}")


def start_mlflow(folder: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    log = folder / "mlflow.log"
    args = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "mlartifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/health", process, log)
    return url, process


def one_round(url: str, batches: int, per_batch: int, single: int) -> dict[str, float]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=url)
    name = "bench-log-batch"
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found else client.create_experiment(name)
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    payloads = [
        [Metric(f"m{i % 10}", float(i), now + i, b * per_batch + i) for i in range(per_batch)]
        for b in range(batches)
    ]
    start = time.perf_counter()
    for metrics in payloads:
        client.log_batch(run_id, metrics=metrics, synchronous=True)
    batch_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(single):
        client.log_metric(run_id, "single", float(i), step=i, synchronous=True)
    single_seconds = time.perf_counter() - start
    client.set_terminated(run_id)
    history = client.get_metric_history(run_id, "m0")
    assert len(history) == batches * per_batch // 10, len(history)
    return {
        "batch_points_per_s": batches * per_batch / batch_seconds,
        "batch_ms": batch_seconds / batches * 1000,
        "single_requests_per_s": single / single_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--metrics", type=int, default=1000)
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    options = parser.parse_args()
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        folder = Path(tmp)
        servers = {"labledger": start_labledger(folder), "mlflow": start_mlflow(folder)}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        try:
            for _ in range(options.rounds):
                for name, (url, _process) in servers.items():
                    results[name].append(
                        one_round(url, options.batches, options.metrics, options.single)
                    )
        finally:
            for _url, process in servers.values():
                process.terminate()
                process.wait(timeout=30)
    summary: dict[str, Any] = {
        name: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for name, rounds in results.items()
    }
    summary["ratio_labledger_over_mlflow"] = {
        key: summary["labledger"][key] / summary["mlflow"][key] for key in summary["mlflow"]
    }
    summary["setup"] = {
        "batches": options.batches,
        "metrics_per_batch": options.metrics,
        "single": options.single,
        "rounds": options.rounds,
        "load_average": os.getloadavg()[0],
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if options.out:
        options.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
