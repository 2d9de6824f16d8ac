#!/usr/bin/env bash
# Create bench/.peers/venv (Python 3.11) with labledger and its peers side by side.
# Idempotent: re-running only installs what is missing. A peer that fails to install is
# recorded in bench/.peers/status.txt and skipped by the harness; this script still exits 0.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEERS="$HERE/.peers"
VENV="$PEERS/venv"
STATUS="$PEERS/status.txt"
PY="${BENCH_PYTHON:-python3.11}"
PEER_PACKAGES=(mlflow wandb aim)
EXTRA_TOOLS=(py-spy pyinstrument)

mkdir -p "$PEERS"
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_peers: creating $VENV with $($PY --version 2>&1)"
    "$PY" -m venv "$VENV" || { echo "setup_peers: cannot create venv with $PY" >&2; exit 1; }
    "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel >/dev/null 2>&1
fi
LOG="$PEERS/install.log"
pip_install() {  # quiet; full output goes to bench/.peers/install.log
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" >>"$LOG" 2>&1
}

installed() { "$VENV/bin/python" -m pip show -q "$1" >/dev/null 2>&1; }

: >"$STATUS.tmp"
record() { echo "$1 $2" >>"$STATUS.tmp"; echo "setup_peers: $1 $2"; }

# The project itself (editable, so the benchmark always measures the working tree).
# Always re-run: cheap when satisfied, and picks up dependencies the SDK adds later.
if pip_install -e "$ROOT[pandas]" numpy pandas; then
    record labledger ok
else
    record labledger failed
fi

for pkg in "${PEER_PACKAGES[@]}"; do
    if installed "$pkg"; then
        record "$pkg" ok
    elif pip_install "$pkg"; then
        record "$pkg" ok
    else
        record "$pkg" failed
    fi
done

# Profilers (optional; only used by bench/hot_loop.py --profile).
for tool in "${EXTRA_TOOLS[@]}"; do
    installed "$tool" || pip_install "$tool" || echo "setup_peers: optional $tool not installed"
done

mv "$STATUS.tmp" "$STATUS"
"$VENV/bin/python" -m pip check >"$PEERS/pip-check.txt" 2>&1 || true
"$VENV/bin/python" - <<'PY' >>"$STATUS" 2>/dev/null || true
import importlib.metadata as md
for name in ("labledger", "mlflow", "wandb", "aim", "pandas", "numpy"):
    try:
        print(f"version {name} {md.version(name)}")
    except md.PackageNotFoundError:
        pass
PY
cat "$STATUS"
