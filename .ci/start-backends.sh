#!/usr/bin/env bash
# Starts real VictoriaMetrics and VictoriaLogs on 127.0.0.1 (default ports 8428 and 9428) with
# temporary data dirs, and waits until both answer. Installs them (and the rule checkers vmalert
# and promtool, which tests start themselves) first with .ci/setup-backends.sh (a copy of
# ../shared/backends/setup.sh) when any of them is not in $PREFIX/bin.
# Prints the two data dirs; the servers keep running after this script returns.
set -euo pipefail
PREFIX=${PREFIX:-$HOME/.cache/otel-backends}
BIN=$PREFIX/bin
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$BIN/victoria-metrics" ] || [ ! -x "$BIN/victoria-logs" ] \
   || [ ! -x "$BIN/vmalert" ] || [ ! -x "$BIN/promtool" ]; then
  setup=$here/setup-backends.sh
  PREFIX=$PREFIX bash "$setup"
fi
VM_PORT=${VM_PORT:-8428}
VL_PORT=${VL_PORT:-9428}
data=$(mktemp -d "${TMPDIR:-/tmp}/gt-backends.XXXXXX")
"$BIN/victoria-metrics" -httpListenAddr=127.0.0.1:$VM_PORT -storageDataPath="$data/vm" \
  -retentionPeriod=1d -search.latencyOffset=1s -opentelemetry.usePrometheusNaming \
  >"$data/vm.log" 2>&1 &
"$BIN/victoria-logs" -httpListenAddr=127.0.0.1:$VL_PORT -storageDataPath="$data/vl" \
  -retentionPeriod=1d >"$data/vl.log" 2>&1 &
deadline=$((SECONDS + 60))
for url in "http://127.0.0.1:$VM_PORT/health" "http://127.0.0.1:$VL_PORT/health"; do
  until curl -fsS "$url" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "backend at $url did not come up; logs in $data" >&2
      tail -20 "$data"/*.log >&2 || true
      exit 1
    fi
    sleep 0.2
  done
done
echo "VictoriaMetrics on 127.0.0.1:$VM_PORT, VictoriaLogs on 127.0.0.1:$VL_PORT (data and logs in $data)"
