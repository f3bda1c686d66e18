#!/usr/bin/env bash
# End-to-end test of the REAL closed-won-converter Lambda binary under the
# Lambda runtime emulator (DESIGN.md §7 "Lambda runtime"): `cargo lambda
# watch` runs the binary exactly as Lambda would (runtime API, cold start,
# configuration read from the environment), `cargo lambda invoke` sends it an
# API Gateway HTTP API v2 event, and the function talks to DynamoDB Local and
# moto (SQS) through the AWS adapters, unchanged.
#
#   bash infra/local/lambda-e2e.sh
#
# What it checks: a signed POST /webhooks/crm with the canonical sample deal
# answers 202 "converted" with a project id; the same delivery again answers
# 202 with the same project id (idempotent replay); a tampered body with the
# old signature answers 401; and exactly one ProjectConverted event for that
# project is on the queue. Then the REAL invoice-generator binary under the
# same emulator: the EventBridge Scheduler's default event (detail is the
# string "{}") plans a billing run with the converted contract due, and its
# job, received from invoice-jobs.fifo and handed back as an SQS event, runs
# without a batch failure. Ends with "lambda-e2e: N passed, M failed".
#
# infra/test.sh calls it (step `lambda-e2e`) with the endpoints it started
# already exported. Standalone, when AWS_ENDPOINT_URL_DYNAMODB is unset, it
# starts the endpoints itself (infra/local/endpoints.sh) and stops them again.
# Either way it creates its own uniquely named tables and queue, and stops
# `cargo lambda watch` and everything it spawned on exit (also on failure or
# Ctrl-C). Requires infra/local/tools.sh to have run (cargo-lambda, moto,
# boto3, DynamoDB Local in .local/).
#
# Env:
#   HANDOFF_LOCAL_DIR           tools/run folder instead of <repo>/.local
#   CARGO_TARGET_DIR            default <repo>/target: the build is shared
#                               with `cargo test` (never --target-dir: DESIGN §7)
#   HANDOFF_LAMBDA_READY_TIMEOUT seconds for the emulator to listen (default 300)
#   HANDOFF_LAMBDA_INVOKE_TIMEOUT seconds per invoke (default 120)

# Functions called through trap are reported as unreachable by shellcheck.
# shellcheck disable=SC2317
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
LOCAL_DIR="${HANDOFF_LOCAL_DIR:-$ROOT/.local}"
VENV="$LOCAL_DIR/venv"
RUN="$LOCAL_DIR/run"
PY="$VENV/bin/python" # has boto3: moto depends on it
FUNCTION="closed-won-converter"
BILLING_FUNCTION="invoice-generator"
SCHEDULE_FIXTURE="$ROOT/tests/fixtures/aws/aws_eventbridge_scheduler_default_event.json"
READY_TIMEOUT="${HANDOFF_LAMBDA_READY_TIMEOUT:-300}"
INVOKE_TIMEOUT="${HANDOFF_LAMBDA_INVOKE_TIMEOUT:-120}"
WATCH_LOG="$RUN/lambda-watch.log"
EVENT="$RUN/e2e-event.json"
TAMPERED="$RUN/e2e-event-tampered.json"
DEAL="$ROOT/infra/seed/deals/acme-website.json"
FIXTURE="$ROOT/tests/fixtures/aws/aws_apigw_http_v2_request_post_body.json"

log() { printf 'lambda-e2e: %s\n' "$*" >&2; }
die() { printf 'lambda-e2e: ERROR: %s\n' "$*" >&2; exit 1; }

[[ -x "$VENV/bin/cargo-lambda" ]] || die "cargo-lambda not installed; run infra/local/tools.sh"
[[ -x "$PY" ]] || die "$PY missing; run infra/local/tools.sh"
mkdir -p "$RUN"

# cargo finds the `lambda` subcommand on PATH; the venv has no cargo/rustc of
# its own, so putting it first changes nothing else. The shared target dir
# means the binary built here is the one `cargo test` already compiled.
export PATH="$VENV/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

PASSED=0
FAILED=0
ENDPOINTS_STARTED=0
RESOURCES_CREATED=0
WATCH_PID=""
INVOKE_PID="" # an invoke in flight, ended by cleanup too
SUFFIX="$(date +%s)-$$"
MAIN_TABLE="handoff-e2e-main-$SUFFIX"
IDEM_TABLE="handoff-e2e-idempotency-$SUFFIX"
QUEUE_NAME="e2e-project-events-$SUFFIX"
QUEUE_URL=""
JOBS_URL=""
JOBS_DLQ_URL=""
OUTBOX_URL=""

# ---------------------------------------------------------------- cleanup

# The pids of every descendant of $1 (depth first). cargo-lambda runs the
# function as `cargo run` (which execs the binary) in a process group of its
# own (its log says "process group spawned pgid=..."), so signalling our
# group alone would leave the function running: the descendants are
# collected before signalling and signalled too.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
    echo "$child"
    descendants "$child"
  done
}

# True if any given pid is alive; a zombie counts as gone (a container's
# pid 1 may never reap an orphan).
alive_pids() {
  local p state
  for p in "$@"; do
    kill -0 "$p" 2>/dev/null || continue
    state="$(ps -o stat= -p "$p" 2>/dev/null || true)"
    state="${state// /}"
    [[ -z "$state" || "$state" == Z* ]] || return 0
  done
  return 1
}

# Stops `cargo lambda watch`: SIGTERM to its process group (it was started
# in its own, see start_watch) and to every descendant, bounded to 10 s
# before SIGKILL, then reaps it and checks that nothing it spawned is left.
stop_watch() {
  [[ -n "$WATCH_PID" ]] || return 0
  local pids i left
  # shellcheck disable=SC2207
  pids=("$WATCH_PID" $(descendants "$WATCH_PID"))
  log "stopping cargo lambda watch (pids ${pids[*]})"
  kill -TERM -- "-$WATCH_PID" 2>/dev/null || true
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive_pids "${pids[@]}" || break
    sleep 0.1
  done
  if alive_pids "${pids[@]}"; then
    log "still running after SIGTERM; sending SIGKILL"
    kill -KILL -- "-$WATCH_PID" 2>/dev/null || true
    kill -KILL "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive_pids "${pids[@]}" || break
      sleep 0.1
    done
  fi
  wait "$WATCH_PID" 2>/dev/null || true # reap our direct child
  # Anything left in our process group, or still alive among the pids we
  # collected, is a leak. (A plain `pgrep -f cargo-lambda` would also see
  # other checkouts' runs, so only our own processes are looked at.)
  left="$(pgrep -g "$WATCH_PID" 2>/dev/null || true)"
  if [[ -n "$left" ]] || alive_pids "${pids[@]}"; then
    log "WARNING: processes left running: ${left:-${pids[*]}}"
    WATCH_PID=""
    return 1
  fi
  WATCH_PID=""
}

# Best effort: the tables and queue are throwaway, but the endpoints may be
# shared with the rest of the test run (infra/test.sh).
delete_resources() {
  ((RESOURCES_CREATED)) || return 0
  RESOURCES_CREATED=0
  MAIN_TABLE="$MAIN_TABLE" IDEM_TABLE="$IDEM_TABLE" QUEUE_NAME="$QUEUE_NAME" \
    timeout 30 "$PY" - <<'PY' || log "could not delete the e2e tables/queue (ignored)"
import os, sys, boto3
ddb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
for table in (os.environ["MAIN_TABLE"], os.environ["IDEM_TABLE"]):
    try:
        ddb.delete_table(TableName=table)
    except ddb.exceptions.ResourceNotFoundException:
        pass
try:
    for suffix in ("", "-jobs.fifo", "-jobs-dlq.fifo", "-outbox"):
        try:
            name = os.environ["QUEUE_NAME"] + suffix
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except Exception as e:  # noqa: BLE001 - best effort, reported
            print(f"lambda-e2e: could not delete queue {name}: {e}", file=sys.stderr)
except sqs.exceptions.QueueDoesNotExist:
    pass
PY
}

cleanup() {
  local status=$?
  trap - EXIT
  if [[ -n "$INVOKE_PID" ]]; then kill "$INVOKE_PID" 2>/dev/null || true; fi
  stop_watch || status=1
  delete_resources
  if ((ENDPOINTS_STARTED)); then
    bash "$ROOT/infra/local/endpoints.sh" stop || true
  fi
  exit "$status"
}
# EXIT covers normal ends and `set -e` failures; INT/TERM become an exit so
# that Ctrl-C also stops the emulator and the function.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- endpoints

if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then
  log "no endpoints exported; starting them (infra/local/endpoints.sh)"
  ENDPOINTS_STARTED=1 # before starting: a half-started run is still stopped
  env_lines="$(bash "$ROOT/infra/local/endpoints.sh" start)"
  eval "$env_lines"
fi
[[ -n "${AWS_ENDPOINT_URL_SQS:-}" ]] || die "AWS_ENDPOINT_URL_DYNAMODB is set but AWS_ENDPOINT_URL_SQS is not"
# This script creates tables and a queue: never against a real account.
for url in "$AWS_ENDPOINT_URL_DYNAMODB" "$AWS_ENDPOINT_URL_SQS"; do
  [[ "$url" =~ ^http://(127\.0\.0\.1|localhost|\[::1\]):[0-9]+/?$ ]] \
    || die "refusing a non-loopback endpoint: $url"
done
# Fake credentials, always: the emulators accept any, and DynamoDB Local
# keys its data by access key and region, so the function and boto3 must
# agree. Anything that could select other credentials is dropped.
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION" # boto3 does not read AWS_REGION

# ---------------------------------------------------------------- 1. resources

log "creating $MAIN_TABLE, $IDEM_TABLE and queue $QUEUE_NAME"
RESOURCES_CREATED=1 # before creating: a half-created set is still deleted
QUEUE_URL="$(MAIN_TABLE="$MAIN_TABLE" IDEM_TABLE="$IDEM_TABLE" QUEUE_NAME="$QUEUE_NAME" \
  timeout 60 "$PY" - <<'PY'
import os, sys, boto3
ddb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])

def s(name):
    return {"AttributeName": name, "AttributeType": "S"}

def keys(pk, sk):
    return [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}]

# The shapes template.yaml declares (and shared/adapters-aws/src/tables.rs
# creates for the contract suite).
ddb.create_table(
    TableName=os.environ["MAIN_TABLE"],
    BillingMode="PAY_PER_REQUEST",
    KeySchema=keys("PK", "SK"),
    AttributeDefinitions=[s(a) for a in ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK")],
    GlobalSecondaryIndexes=[
        {"IndexName": n, "KeySchema": keys(f"{n}PK", f"{n}SK"), "Projection": {"ProjectionType": "ALL"}}
        for n in ("GSI1", "GSI2", "GSI3")
    ],
)
ddb.create_table(
    TableName=os.environ["IDEM_TABLE"],
    BillingMode="PAY_PER_REQUEST",
    KeySchema=keys("PK", "SK"),
    AttributeDefinitions=[s("PK"), s("SK")],
)
waiter = ddb.get_waiter("table_exists")
for t in (os.environ["MAIN_TABLE"], os.environ["IDEM_TABLE"]):
    waiter.wait(TableName=t, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
fifo = {"FifoQueue": "true"}
print(sqs.create_queue(QueueName=os.environ["QUEUE_NAME"])["QueueUrl"])
print(sqs.create_queue(QueueName=os.environ["QUEUE_NAME"] + "-jobs.fifo", Attributes=fifo)["QueueUrl"])
print(sqs.create_queue(QueueName=os.environ["QUEUE_NAME"] + "-jobs-dlq.fifo", Attributes=fifo)["QueueUrl"])
print(sqs.create_queue(QueueName=os.environ["QUEUE_NAME"] + "-outbox")["QueueUrl"])
PY
)"
{ read -r QUEUE_URL; read -r JOBS_URL; read -r JOBS_DLQ_URL; read -r OUTBOX_URL; } <<<"$QUEUE_URL"
[[ -n "$QUEUE_URL" && -n "$OUTBOX_URL" ]] || die "queue creation returned no URL"

# ---------------------------------------------------------------- 2. emulator

# Build first, with the very command line `cargo lambda watch` runs
# (`cargo run --bin closed-won-converter` from the workspace root, so the
# same feature set and fingerprint): the watcher only compiles on the first
# invoke, where a compile error would look like a hung invoke. With the
# shared target dir this is a relink at most after `cargo test`.
log "building $FUNCTION and $BILLING_FUNCTION (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --bin "$FUNCTION" --bin "$BILLING_FUNCTION"

# A free loopback port: bind port 0, read it, release it. The emulator binds
# 127.0.0.1 only (its default is every interface, `::`).
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SECRET="e2e-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# The function gets cargo-lambda's own environment (watch → cargo run →
# binary inherits it), so the configuration is given as plain variables on
# the command. Not --env-var: it splits values at commas (a list of
# CRM_WEBHOOK_SECRETS would break). `set -m` puts the watcher in its own
# process group, so stop_watch can signal it and everything it spawned at
# once; it stays our child, so it is reaped. --ignore-changes: no rebuild or
# restart if a file changes during the run.
: >"$WATCH_LOG"
log "starting cargo lambda watch on 127.0.0.1:$PORT (log $WATCH_LOG)"
set -m
env \
  HANDOFF_STAGE=e2e \
  MAIN_TABLE_NAME="$MAIN_TABLE" \
  IDEMPOTENCY_TABLE_NAME="$IDEM_TABLE" \
  PROJECT_EVENTS_QUEUE_URL="$QUEUE_URL" \
  INVOICE_JOBS_QUEUE_URL="$JOBS_URL" \
  INVOICE_JOBS_DLQ_URL="$JOBS_DLQ_URL" \
  ACCOUNTING_OUTBOX_QUEUE_URL="$OUTBOX_URL" \
  CRM_WEBHOOK_SECRETS="$SECRET" \
  RUST_LOG="${RUST_LOG:-info}" \
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" --ignore-changes \
  </dev/null >>"$WATCH_LOG" 2>&1 &
WATCH_PID=$!
set +m

# Ready = the emulator accepts connections on its port. Bounded; fails at
# once if the watcher exits (e.g. the port was taken meanwhile).
ready=0
for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
  alive_pids "$WATCH_PID" || break
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if ((!ready)); then
  tail -n 30 "$WATCH_LOG" >&2 || true
  die "cargo lambda watch did not listen on 127.0.0.1:$PORT within ${READY_TIMEOUT}s"
fi
log "emulator ready"

# ---------------------------------------------------------------- 3. events

# An API Gateway HTTP API v2 event (the AWS sample), carrying the canonical
# deal as body, signed as a CRM would: Handoff-Signature t=<unix s>,v1=<hex
# HMAC-SHA256 of "<t>.<raw body>">. The body is the file's bytes as they are
# (not re-serialised), since the signature covers them exactly. The tampered
# copy changes one digit of the amount and keeps the signature.
SECRET="$SECRET" "$PY" - "$FIXTURE" "$DEAL" "$EVENT" "$TAMPERED" <<'PY'
import copy, hashlib, hmac, json, os, sys, time

fixture, deal, out, tampered_out = sys.argv[1:5]
secret = os.environ["SECRET"].encode()
with open(fixture) as f:
    event = json.load(f)
with open(deal, encoding="utf-8") as f:
    body = f.read()

now = time.time()
t = str(int(now))
sig = hmac.new(secret, f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
event["rawPath"] = "/webhooks/crm"
event["rawQueryString"] = ""
event.pop("queryStringParameters", None)
event.pop("cookies", None)
event["headers"] = {
    "content-type": "application/json",
    "handoff-signature": f"t={t},v1={sig}",
    "user-agent": "handoff-lambda-e2e",
}
ctx = event["requestContext"]
ctx["http"]["method"] = "POST"
ctx["http"]["path"] = "/webhooks/crm"
ctx["requestId"] = f"e2e-{t}"
ctx["timeEpoch"] = int(now * 1000)
ctx["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
event["body"] = body
event["isBase64Encoded"] = False
with open(out, "w") as f:
    json.dump(event, f, indent=2)

tampered = copy.deepcopy(event)
assert '"amount": "112400.00"' in body, "sample deal changed; adjust the tampering"
tampered["body"] = body.replace('"amount": "112400.00"', '"amount": "112401.00"', 1)
tampered["requestContext"]["requestId"] = f"e2e-{t}-tampered"
with open(tampered_out, "w") as f:
    json.dump(tampered, f, indent=2)
PY

# ---------------------------------------------------------------- 4. invokes

# One invoke, bounded. If the function process dies (e.g. a configuration
# error at cold start), the emulator neither answers nor restarts it: every
# invoke, this one and all later ones, would wait forever. So the watcher's
# log is watched for that ("command exited") and the invoke ended at once.
FUNCTION_EXITED=0
function_exited() {
  ((FUNCTION_EXITED)) && return 0
  grep -q "command exited" "$WATCH_LOG" || return 1
  FUNCTION_EXITED=1
  log "the function process exited; the watcher's log ends with:"
  tail -n 20 "$WATCH_LOG" >&2
}
invoke() {
  local event="$1" out="$2" function="${3:-$FUNCTION}" ipid rc=0 deadline
  if function_exited; then
    log "not invoking $(basename "$event"): the function is no longer running"
    return 1
  fi
  cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$PORT" \
    --data-file "$event" >"$out" 2>"$out.stderr" &
  ipid=$!
  INVOKE_PID=$ipid
  deadline=$((SECONDS + INVOKE_TIMEOUT))
  while alive_pids "$ipid"; do
    if ! alive_pids "$WATCH_PID"; then
      kill "$ipid" 2>/dev/null || true
      log "cargo lambda watch exited during the invoke"
      rc=1
      break
    fi
    if function_exited; then
      kill "$ipid" 2>/dev/null || true
      rc=1
      break
    fi
    if ((SECONDS >= deadline)); then
      kill "$ipid" 2>/dev/null || true
      log "invoke timed out after ${INVOKE_TIMEOUT}s"
      rc=1
      break
    fi
    sleep 0.1
  done
  wait "$ipid" 2>/dev/null || rc=$((rc ? rc : $?))
  INVOKE_PID=""
  if ((rc != 0)); then
    log "invoke of $(basename "$event") failed (exit $rc)"
    if [[ -s "$out.stderr" ]]; then cat "$out.stderr" >&2; fi
  fi
  return "$rc"
}

# Records one check's result; the checks themselves print why they failed.
check() {
  local name="$1"
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    log "PASS  $name"
  else
    FAILED=$((FAILED + 1))
    log "FAIL  $name"
  fi
}

# Asserts on an invoke's response (the API Gateway v2 response lambda_http
# returns): expect_response FILE STATUS [converted|replay PROJECT_ID].
# Prints the project id on stdout when it found one.
expect_response() {
  "$PY" - "$@" <<'PY'
import base64, json, sys

path, want_status = sys.argv[1], int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else None
want_project = sys.argv[4] if len(sys.argv) > 4 else None

def fail(msg):
    print(f"lambda-e2e:   {msg}", file=sys.stderr)
    sys.exit(1)

try:
    with open(path) as f:
        raw = f.read()
    resp = json.loads(raw)
except (OSError, ValueError) as e:
    fail(f"no JSON response in {path}: {e}")
status = resp.get("statusCode")
body = resp.get("body") or ""
if resp.get("isBase64Encoded"):
    body = base64.b64decode(body).decode()
if status != want_status:
    fail(f"statusCode {status}, expected {want_status}; body: {body[:500]}")
if mode is None:
    sys.exit(0)
try:
    result = json.loads(body)["results"][0]
except (ValueError, KeyError, IndexError, TypeError) as e:
    fail(f"body has no results[0] ({e}): {body[:500]}")
project = result.get("project_id")
if not project:
    fail(f"results[0] has no project_id: {result}")
if mode == "converted" and result.get("status") != "converted":
    fail(f"results[0].status {result.get('status')!r}, expected 'converted'")
if mode == "replay":
    if project != want_project:
        fail(f"replay answered project {project}, the first delivery {want_project}")
    # The idempotency record replays the first answer; a new run of the
    # conversion would answer already_converted: both are the same project.
    if result.get("status") not in ("converted", "already_converted"):
        fail(f"replay status {result.get('status')!r}")
    print(f"lambda-e2e:   replay answered status {result.get('status')!r}", file=sys.stderr)
print(project)
PY
}

# Reads the queue with a few bounded polls (until two come back empty) and
# asserts exactly one message, a ProjectConverted for the project.
expect_one_event() {
  QUEUE_URL="$QUEUE_URL" timeout 60 "$PY" - "$1" <<'PY'
import json, os, sys, boto3

project = sys.argv[1]
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
messages, empty = {}, 0
for _ in range(10):
    got = sqs.receive_message(
        QueueUrl=os.environ["QUEUE_URL"], MaxNumberOfMessages=10,
        WaitTimeSeconds=1, VisibilityTimeout=60,  # not seen twice while polling
    ).get("Messages", [])
    for m in got:
        messages[m["MessageId"]] = m["Body"]
    empty = 0 if got else empty + 1
    if empty >= 2:
        break
bodies = list(messages.values())
if len(bodies) != 1:
    print(f"lambda-e2e:   {len(bodies)} messages on the queue, expected 1: {bodies}", file=sys.stderr)
    sys.exit(1)
event = json.loads(bodies[0])
if event.get("type") != "ProjectConverted" or event.get("project_id") != project:
    print(f"lambda-e2e:   unexpected message: {bodies[0]}", file=sys.stderr)
    sys.exit(1)
print(f"lambda-e2e:   one ProjectConverted, event_id {event.get('event_id')}", file=sys.stderr)
PY
}

PROJECT_ID=""
first_delivery() {
  local out="$RUN/e2e-response-1.json"
  invoke "$EVENT" "$out" || return 1
  PROJECT_ID="$(expect_response "$out" 202 converted)" || return 1
  log "  project $PROJECT_ID"
}
replay() {
  local out="$RUN/e2e-response-2.json"
  [[ -n "$PROJECT_ID" ]] || { log "  no project id from the first delivery"; return 1; }
  invoke "$EVENT" "$out" || return 1
  expect_response "$out" 202 replay "$PROJECT_ID" >/dev/null
}
tampered() {
  local out="$RUN/e2e-response-tampered.json"
  invoke "$TAMPERED" "$out" || return 1
  expect_response "$out" 401
}
one_event() {
  [[ -n "$PROJECT_ID" ]] || { log "  no project id from the first delivery"; return 1; }
  expect_one_event "$PROJECT_ID"
}

check "signed delivery → 202 converted with a project id" first_delivery
check "same delivery again → 202, same project id" replay
check "tampered body, old signature → 401" tampered
check "exactly one ProjectConverted for the project on the queue" one_event

# The invoice generator under the same emulator: the EventBridge Scheduler's
# default event (detail is the string "{}") for today plans a billing run;
# the converted project bills on milestone acceptance, so it is due every
# day: one job on the FIFO jobs queue, grouped by its contract. That job,
# received and handed back as an SQS event, runs with no batch failure.
schedule_event() {
  "$PY" - "$SCHEDULE_FIXTURE" "$RUN/e2e-schedule.json" <<'PY'
import json, sys, time
with open(sys.argv[1]) as f:
    event = json.load(f)
assert event["detail"] == "{}", "the Scheduler's default event carries detail as a string"
event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
with open(sys.argv[2], "w") as f:
    json.dump(event, f)
PY
}
planned_run() {
  local out="$RUN/e2e-run.json"
  schedule_event || return 1
  invoke "$RUN/e2e-schedule.json" "$out" "$BILLING_FUNCTION" || return 1
  "$PY" - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
if report.get("trigger") != "schedule" or report.get("contracts_due") != 1:
    print(f"lambda-e2e:   unexpected run report: {report}", file=sys.stderr)
    sys.exit(1)
print(f"lambda-e2e:   run {report['run_id']}: {report['contracts_due']} contract due", file=sys.stderr)
PY
}
job_consumed() {
  JOBS_URL="$JOBS_URL" timeout 60 "$PY" - "$RUN/e2e-jobs.json" <<'PY' || return 1
import json, os, sys, boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
got = []
for _ in range(5):
    got = sqs.receive_message(QueueUrl=os.environ["JOBS_URL"], MaxNumberOfMessages=10,
                              WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
    if got:
        break
if len(got) != 1:
    print(f"lambda-e2e:   {len(got)} jobs on the queue, expected 1", file=sys.stderr)
    sys.exit(1)
m = got[0]
job = json.loads(m["Body"])
if m["Attributes"].get("MessageGroupId") != job["contract_id"]:
    print(f"lambda-e2e:   job grouped by {m['Attributes'].get('MessageGroupId')}, not its contract", file=sys.stderr)
    sys.exit(1)
record = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
          "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:jobs.fifo",
          "awsRegion": "us-east-1"}
json.dump({"Records": [record]}, open(sys.argv[1], "w"))
PY
  invoke "$RUN/e2e-jobs.json" "$RUN/e2e-jobs-response.json" "$BILLING_FUNCTION" || return 1
  "$PY" - "$RUN/e2e-jobs-response.json" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
if answer.get("batchItemFailures") != []:
    print(f"lambda-e2e:   the job failed: {answer}", file=sys.stderr)
    sys.exit(1)
PY
}

check "schedule event (string detail) → a billing run with the due contract" planned_run
check "its job on invoice-jobs.fifo, grouped by contract, runs without failure" job_consumed

# ---------------------------------------------------------------- 5. stop

stop_watch || FAILED=$((FAILED + 1))
echo "lambda-e2e: $PASSED passed, $FAILED failed"
((FAILED == 0))
