#!/usr/bin/env bash
# The one command: install the peers (idempotent), then run every workload for every tracker.
#   bash bench/run.sh            # full run (~30-40 min on 2 cores)
#   bash bench/run.sh --quick    # a few minutes
# Extra arguments go to bench/run.py (see --help), e.g. --workloads W0,W1 --trackers labledger,mlflow
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/setup_peers.sh"
exec "$HERE/.peers/venv/bin/python" "$HERE/run.py" "$@"
