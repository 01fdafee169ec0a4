#!/usr/bin/env bash
# The local stack: one SeaweedFS (`weed mini`) per instance, plus the machine's
# PostgreSQL and RabbitMQ, all on 127.0.0.1.
#
#   scripts/stack.sh up|down|status
#
# STACK_NAME picks the instance: `run` (default, for `make run`) or `test` (for
# `make test`); they use different ports so both can run side by side. State
# (data, logs, pid, generated configs) lives under .stack/<name>/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/install-deps.sh
source "$ROOT/scripts/install-deps.sh"

STACK_NAME=${STACK_NAME:-run}
UC_S3_ACCESS_KEY=${UC_S3_ACCESS_KEY:-uc-dev-access}
UC_S3_SECRET_KEY=${UC_S3_SECRET_KEY:-uc-dev-secret}
UC_S3_BUCKET=${UC_S3_BUCKET:-videos}
UC_EVENTS_WEBHOOK_TOKEN=${UC_EVENTS_WEBHOOK_TOKEN:-dev-webhook-token-for-the-local-stack-only}

STATE_DIR=$ROOT/.stack/$STACK_NAME
PID_FILE=$STATE_DIR/weed.pid
LOG_FILE=$STATE_DIR/weed.log
START_TIMEOUT=60

PG_PORT=5432
AMQP_PORT=5672

log() { echo "stack[$STACK_NAME]: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Every port is set explicitly (gRPC ones too): `weed mini` would otherwise move a busy
# default port elsewhere, and the two instances must never collide. Each gRPC port is its
# port + 10000, below Linux's ephemeral range (32768 up), so no outgoing connection holds it.
select_instance() {
  case $STACK_NAME in
    run)
      S3_PORT=8333 MASTER_PORT=9333 VOLUME_PORT=9340 FILER_PORT=8888 ADMIN_PORT=13646 WEBDAV_PORT=7333
      WEBHOOK_URL=http://127.0.0.1:8080/api/storage-events
      ;;
    test)
      S3_PORT=8433 MASTER_PORT=9433 VOLUME_PORT=9440 FILER_PORT=8988 ADMIN_PORT=13746 WEBDAV_PORT=7433
      WEBHOOK_URL=http://127.0.0.1:18080/api/storage-events
      ;;
    *) die "STACK_NAME must be 'run' or 'test', not '$STACK_NAME'" ;;
  esac
  S3_URL=http://127.0.0.1:$S3_PORT
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to $1 seconds for command "${@:2}" to succeed.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# ---------------------------------------------------------------- PostgreSQL

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

# The app connects as postgres:postgres over TCP; a fresh Debian cluster wants a
# password there, a trust-auth one ignores it.
pg_psql() { PGPASSWORD=postgres psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }

ensure_postgres() {
  if ! pg_ready; then
    local version
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
    [[ -n $version ]] || die "no PostgreSQL cluster under /etc/postgresql"
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for 30 pg_ready || die "PostgreSQL did not become ready on 127.0.0.1:$PG_PORT"
  fi
  if ! pg_psql -d postgres -c 'select 1' >/dev/null 2>&1; then
    log "setting the postgres user's password"
    runuser -u postgres -- psql -qX -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
  fi
  if [[ -z $(pg_psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'upload_coordinator'") ]]; then
    log "creating database upload_coordinator"
    pg_psql -d postgres -c 'CREATE DATABASE upload_coordinator' >/dev/null
  fi
}

# ------------------------------------------------------------------ RabbitMQ

ensure_rabbitmq() {
  port_open "$AMQP_PORT" && return 0
  log "starting RabbitMQ"
  # Only applies when we start it: keep the broker and epmd on loopback.
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 rabbitmq-server -detached
  wait_for 90 port_open "$AMQP_PORT" || die "RabbitMQ did not open 127.0.0.1:$AMQP_PORT"
}

# ----------------------------------------------------------------- SeaweedFS

# Without -s3.config SeaweedFS accepts any signature; one admin identity makes it check them.
s3_config() {
  cat <<JSON
{
  "identities": [
    {
      "name": "upload-coordinator",
      "credentials": [
        { "accessKey": "$UC_S3_ACCESS_KEY", "secretKey": "$UC_S3_SECRET_KEY" }
      ],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON
}

# The filer reads notification.toml from its working directory (STATE_DIR) and
# POSTs every metadata event to the coordinator's webhook. SeaweedFS 4.48 tries each
# event once (a refused or non-2xx POST is logged as a dead letter and dropped, whatever
# max_retries says), so missed events are the reconciler's to catch.
notification_config() {
  cat <<TOML
[notification.webhook]
enabled = true
endpoint = "$WEBHOOK_URL"
bearer_token = "$UC_EVENTS_WEBHOOK_TOKEN"
timeout_seconds = 5
TOML
}

write_configs() {
  s3_config >"$STATE_DIR/s3.json"
  notification_config >"$STATE_DIR/notification.toml"
}

# True when the running instance was started with the credentials and webhook asked for now.
configs_current() {
  [[ -f $STATE_DIR/s3.json && -f $STATE_DIR/notification.toml ]] &&
    [[ $(s3_config) == "$(<"$STATE_DIR/s3.json")" ]] &&
    [[ $(notification_config) == "$(<"$STATE_DIR/notification.toml")" ]]
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# Prints the pid of this instance's weed if it is alive (and really is weed: pids get reused).
weed_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(<"$PID_FILE")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "weed mini .*-s3.port=$S3_PORT " || return 1
  echo "$pid"
}

# A SigV4-signed, bodiless request with the stack's credentials; prints the HTTP status.
# (Older curl does not add the payload hash header that S3 wants on a PUT.)
s3_status() {
  local method=$1 path=$2
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$method" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$UC_S3_ACCESS_KEY:$UC_S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$S3_URL$path" || true
}

bucket_ready() { [[ $(s3_status HEAD "/$UC_S3_BUCKET") == 200 ]]; }

# -bucket only acts at startup; this covers a bucket name changed since.
create_bucket_if_missing() {
  if [[ $(s3_status HEAD "/$UC_S3_BUCKET") == 404 ]]; then
    log "creating bucket $UC_S3_BUCKET"
    s3_status PUT "/$UC_S3_BUCKET" >/dev/null
  fi
}

start_weed() {
  local weed
  weed=$(weed_bin) || die "weed not found after install"
  mkdir -p "$STATE_DIR/data"
  write_configs
  : >"$LOG_FILE"
  log "starting SeaweedFS (S3 $S3_URL), log: ${LOG_FILE#"$ROOT"/}"
  # setsid: its own session, so a Ctrl+C in `make run` does not take storage down too.
  (
    cd "$STATE_DIR"
    exec setsid nohup "$weed" mini \
      -dir="$STATE_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 10000)) \
      -s3.config="$STATE_DIR/s3.json" -s3.allowedOrigins='*' \
      -s3.port.iceberg=0 -s3.port.lance=0 \
      -master.port="$MASTER_PORT" -master.port.grpc=$((MASTER_PORT + 10000)) -master.telemetry=false \
      -volume.port="$VOLUME_PORT" -volume.port.grpc=$((VOLUME_PORT + 10000)) \
      -filer.port="$FILER_PORT" -filer.port.grpc=$((FILER_PORT + 10000)) \
      -admin.port="$ADMIN_PORT" -admin.port.grpc=$((ADMIN_PORT + 10000)) -admin.ui=false \
      -webdav=false -webdav.port="$WEBDAV_PORT" \
      -bucket="$UC_S3_BUCKET" \
      >>"$LOG_FILE" 2>&1 </dev/null
  ) &
  echo $! >"$PID_FILE"
}

# Waits until S3 checks our signature and the bucket exists; fails early if weed exits.
wait_for_weed() {
  local deadline=$((SECONDS + START_TIMEOUT))
  while ! bucket_ready; do
    create_bucket_if_missing
    if ! weed_pid >/dev/null; then
      fail_with_log "SeaweedFS exited during startup"
    fi
    ((SECONDS < deadline)) || fail_with_log "SeaweedFS not ready after ${START_TIMEOUT}s (bucket '$UC_S3_BUCKET' on $S3_URL)"
    sleep 0.5
  done
}

fail_with_log() {
  log "error: $1; last lines of ${LOG_FILE#"$ROOT"/}:"
  tail -n 30 "$LOG_FILE" >&2 || true
  exit 1
}

ensure_weed() {
  # Already ours and alive (perhaps still starting): just wait until it serves.
  if weed_pid >/dev/null; then
    if configs_current; then
      wait_for_weed
      return 0
    fi
    log "credentials or webhook settings changed: restarting"
    stop_weed
  fi
  rm -f "$PID_FILE"
  if port_open "$S3_PORT"; then
    die "127.0.0.1:$S3_PORT is taken by another process (another checkout's stack?)"
  fi
  start_weed
  wait_for_weed
}

stop_weed() {
  local pid
  if pid=$(weed_pid); then
    log "stopping SeaweedFS (pid $pid)"
    kill -TERM "$pid"
    # weed mini drains its servers first; give it a moment, then insist.
    if ! wait_for 20 pid_gone "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE"
}

# ------------------------------------------------------------------ commands

cmd_up() {
  install_deps
  mkdir -p "$STATE_DIR"
  ensure_postgres
  ensure_rabbitmq
  ensure_weed
  log "up: S3 $S3_URL (bucket $UC_S3_BUCKET), filer events -> $WEBHOOK_URL"
}

cmd_down() {
  stop_weed
  log "down"
}

cmd_status() {
  local pid ok=0
  if pid=$(weed_pid); then
    echo "seaweedfs[$STACK_NAME]: running, pid $pid, S3 $S3_URL, filer events -> $WEBHOOK_URL"
    if bucket_ready; then
      echo "  bucket $UC_S3_BUCKET: present"
    else
      echo "  bucket $UC_S3_BUCKET: not reachable"
      ok=1
    fi
  else
    echo "seaweedfs[$STACK_NAME]: stopped"
    ok=1
  fi
  if pg_ready; then echo "postgresql: ready on 127.0.0.1:$PG_PORT"; else echo "postgresql: down"; ok=1; fi
  if port_open "$AMQP_PORT"; then echo "rabbitmq: listening on 127.0.0.1:$AMQP_PORT"; else echo "rabbitmq: down"; ok=1; fi
  return $ok
}

main() {
  select_instance
  case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: STACK_NAME=run|test $0 up|down|status" >&2; exit 2 ;;
  esac
}

main "$@"
