#!/usr/bin/env bash
# `make bench`: a release build of the service on the local `run` stack, the k6 scenarios of
# k6/ against it with bounded durations, and bench/REPORT.md with every figure.
#
# The run stack's SeaweedFS is restarted first (its data stays), so its memory starts from the
# same point every run. Each scenario runs while a sampler reads /proc every 200 ms: the
# service's resident memory (peak per scenario), k6's and SeaweedFS's, the machine's free
# memory (k6 is stopped early if it runs low) and CPU time per process. Objects the scenarios
# stored are deleted and the storage vacuumed after each one, so runs do not fill the disk.
#
# Settings (environment; defaults follow issue 4):
#   BENCH_PORT=8080            the service's port; the run stack posts storage events to :8080
#   BENCH_DATABASE=upload_coordinator_bench   dropped and created again for every run
#   BENCH_BIN=path             use this service binary instead of building one
#   BENCH_SCENARIOS="one-user one-user-checksums raw-one-user five-users raw-five-users ramp api-stress"
#   BENCH_REPORT=bench/REPORT.md
#   BENCH_CONFIRM_BY=auto|complete|event   how single-PUT uploads get confirmed in the ramp
#                              (auto: by storage event when the service takes them)
#   FILE_SIZE_MB=100 ONE_USER_ITERATIONS=10 PUT_CONCURRENCY=4
#   FIVE_USERS_VUS=5 FIVE_USERS_DURATION=1m
#   RAMP_VUS=300 RAMP_UP=60s RAMP_HOLD=60s RAMP_FILE_MIN_MB=5 RAMP_FILE_MAX_MB=20
#   RAMP_SLEEP_MIN_S=30 RAMP_SLEEP_MAX_S=90   each user's pause between two uploads
#   STRESS_VUS=500 STRESS_RAMP_UP=10s STRESS_DURATION=30s STRESS_SLEEP_S=1
#   BENCH_MIN_AVAILABLE_MB=1536   below this much free memory the running k6 is stopped
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/install-deps.sh
source "$ROOT/scripts/install-deps.sh"

BENCH_PORT=${BENCH_PORT:-8080}
BENCH_DATABASE=${BENCH_DATABASE:-upload_coordinator_bench}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-one-user one-user-checksums raw-one-user five-users raw-five-users ramp api-stress}
BENCH_REPORT=${BENCH_REPORT:-$ROOT/bench/REPORT.md}
BENCH_CONFIRM_BY=${BENCH_CONFIRM_BY:-auto}
BENCH_MIN_AVAILABLE_MB=${BENCH_MIN_AVAILABLE_MB:-1536}
FILE_SIZE_MB=${FILE_SIZE_MB:-100}
ONE_USER_ITERATIONS=${ONE_USER_ITERATIONS:-10}
PUT_CONCURRENCY=${PUT_CONCURRENCY:-4}
FIVE_USERS_VUS=${FIVE_USERS_VUS:-5}
FIVE_USERS_DURATION=${FIVE_USERS_DURATION:-1m}
RAMP_VUS=${RAMP_VUS:-300}
RAMP_UP=${RAMP_UP:-60s}
RAMP_HOLD=${RAMP_HOLD:-60s}
RAMP_FILE_MIN_MB=${RAMP_FILE_MIN_MB:-5}
RAMP_FILE_MAX_MB=${RAMP_FILE_MAX_MB:-20}
RAMP_SLEEP_MIN_S=${RAMP_SLEEP_MIN_S:-30}
RAMP_SLEEP_MAX_S=${RAMP_SLEEP_MAX_S:-90}
STRESS_VUS=${STRESS_VUS:-500}
STRESS_RAMP_UP=${STRESS_RAMP_UP:-10s}
STRESS_DURATION=${STRESS_DURATION:-30s}
STRESS_SLEEP_S=${STRESS_SLEEP_S:-1}

# What the `run` stack serves (scripts/stack.sh): S3, its filer and its master.
S3_ENDPOINT=http://127.0.0.1:8333
FILER_URL=http://127.0.0.1:8888
MASTER_URL=http://127.0.0.1:9333
UC_S3_BUCKET=${UC_S3_BUCKET:-videos}
UC_S3_ACCESS_KEY=${UC_S3_ACCESS_KEY:-uc-dev-access}
UC_S3_SECRET_KEY=${UC_S3_SECRET_KEY:-uc-dev-secret}
UC_EVENTS_WEBHOOK_TOKEN=${UC_EVENTS_WEBHOOK_TOKEN:-dev-webhook-token-for-the-local-stack-only}
# The service stores every object of the bench under this prefix, and only it is cleaned.
KEY_PREFIX=bench
JWT_SECRET=bench-jwt-secret-of-at-least-32-bytes
# Its broker queues and exchanges are its own: the run stack's RabbitMQ may feed a local worker.
JOB_EXCHANGE=bench.video
JOB_DLX=bench.video-dlx
BENCH_QUEUES=(bench.video_tasks bench.video.dlq bench.video_results bench.storage-events bench.storage-events.dlq
  bench.video_results.dlq)

WORK=$ROOT/.stack/bench
SERVICE_PID=
K6_PID=

log() { echo "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

pg_psql() { PGPASSWORD=postgres psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------- /proc readers (shell builtins: no programs started)

# Resident memory of a process in kB (0 once it is gone).
rss_kb() {
  local key value _
  while read -r key value _; do
    [[ $key == VmRSS: ]] && { echo "$value"; return; }
  done 2>/dev/null <"/proc/$1/status"
  echo 0
}

mem_available_kb() {
  local key value _
  while read -r key value _; do
    [[ $key == MemAvailable: ]] && { echo "$value"; return; }
  done </proc/meminfo
}

# utime + stime of a process, in clock ticks (0 once it is gone).
cpu_ticks() {
  local -a f
  read -ra f 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
  echo $((f[13] + f[14]))
}

# utime + stime of every process whose name is $1 (PostgreSQL backends, RabbitMQ's VM).
cpu_ticks_named() {
  local stat comm total=0
  local -a f
  for stat in /proc/[0-9]*/stat; do
    read -ra f 2>/dev/null <"$stat" || continue
    comm=${f[1]}
    [[ $comm == "($1)" ]] && ((total += f[13] + f[14]))
  done
  echo "$total"
}

# "busy idle iowait" ticks of the whole machine.
machine_ticks() {
  local _ user nice system idle iowait irq softirq steal
  read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
  echo "$((user + nice + system + irq + softirq + steal)) $idle $iowait"
}

# ----------------------------------------------------------------------------- steps

build() {
  if [[ -n ${BENCH_BIN:-} ]]; then
    SERVICE_BIN=$BENCH_BIN
    BUILD_SECONDS=0
    return
  fi
  log "building the release binary"
  local started=$SECONDS
  cargo build --release --quiet
  BUILD_SECONDS=$((SECONDS - started))
  SERVICE_BIN=$ROOT/target/release/upload-coordinator
}

fresh_database() {
  pg_psql -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DATABASE WITH (FORCE)" >/dev/null
  pg_psql -d postgres -c "CREATE DATABASE $BENCH_DATABASE" >/dev/null
}

start_service() {
  port_open "$BENCH_PORT" && die "127.0.0.1:$BENCH_PORT is taken (a \`make run\`?); stop it or set BENCH_PORT"
  [[ $BENCH_PORT == 8080 ]] || log "warning: storage events of the run stack go to :8080, not :$BENCH_PORT"
  log "starting the service on 127.0.0.1:$BENCH_PORT (log: ${WORK#"$ROOT"/}/service.log)"
  UC_LISTEN=127.0.0.1:$BENCH_PORT \
    UC_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/$BENCH_DATABASE \
    UC_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \
    UC_S3_ENDPOINT=$S3_ENDPOINT UC_S3_BUCKET=$UC_S3_BUCKET \
    UC_S3_ACCESS_KEY=$UC_S3_ACCESS_KEY UC_S3_SECRET_KEY=$UC_S3_SECRET_KEY \
    UC_EVENTS_WEBHOOK_TOKEN=$UC_EVENTS_WEBHOOK_TOKEN \
    UC_JWT_SECRET=$JWT_SECRET UC_KEY_PREFIX=$KEY_PREFIX \
    UC_JOB_EXCHANGE=$JOB_EXCHANGE UC_JOB_QUEUE=${BENCH_QUEUES[0]} \
    UC_JOB_DEAD_LETTER_EXCHANGE=$JOB_DLX UC_JOB_DEAD_LETTER_QUEUE=${BENCH_QUEUES[1]} \
    UC_RESULTS_QUEUE=${BENCH_QUEUES[2]} UC_EVENTS_QUEUE=${BENCH_QUEUES[3]} \
    "$SERVICE_BIN" serve >"$WORK/service.log" 2>&1 &
  SERVICE_PID=$!
  local deadline=$((SECONDS + 60))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$BENCH_PORT/readyz") == 200 ]]; do
    kill -0 "$SERVICE_PID" 2>/dev/null || { tail -n 20 "$WORK/service.log" >&2; die "the service exited"; }
    ((SECONDS < deadline)) || die "the service is not ready after 60 s"
    sleep 0.2
  done
  IDLE_RSS_KB=$(rss_kb "$SERVICE_PID")
}

# Stops the process $1 (if any) and waits for it.
stop_process() {
  [[ -n $1 ]] || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

stop_service() {
  stop_process "$SERVICE_PID"
  SERVICE_PID=
}

# The published jobs wait in the bench's queues: drop them (its two exchanges hold nothing).
delete_broker_queues() {
  command -v rabbitmqctl >/dev/null 2>&1 || return 0
  local name
  for name in "${BENCH_QUEUES[@]}"; do
    rabbitmqctl -q delete_queue "$name" >/dev/null 2>&1 || true
  done
}

cleanup() {
  if [[ -n $K6_PID ]]; then kill -INT "$K6_PID" 2>/dev/null || true; fi
  stop_service
}

# Whether single PUTs can be left to storage events: the service has the webhook route.
confirm_mode() {
  if [[ $BENCH_CONFIRM_BY != auto ]]; then
    echo "$BENCH_CONFIRM_BY"
  elif [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$BENCH_PORT/api/storage-events") =~ ^(404|405)$ ]]; then
    echo complete
  else
    echo event
  fi
}

# Deletes what the bench stored (the bench prefix, and the parts of multipart uploads that
# iterations cut short left pending) and lets storage reclaim the space.
clean_storage() {
  curl -s -o /dev/null --max-time 60 -X DELETE \
    "$FILER_URL/buckets/$UC_S3_BUCKET/$KEY_PREFIX/?recursive=true&ignoreRecursiveError=true" || true
  local upload_id
  pg_psql -d "$BENCH_DATABASE" \
    -c "SELECT storage_upload_id FROM uploads WHERE status = 'pending' AND storage_upload_id IS NOT NULL" |
    while read -r upload_id; do
      curl -s -o /dev/null --max-time 10 -X DELETE \
        "$FILER_URL/buckets/$UC_S3_BUCKET/.uploads/$upload_id?recursive=true&ignoreRecursiveError=true" || true
    done
  curl -s -o /dev/null --max-time 120 "$MASTER_URL/vol/vacuum?garbageThreshold=0.01" || true
}

# The service's /metrics, to file $1.
scrape_metrics() {
  curl -s --max-time 10 -o "$1" "http://127.0.0.1:$BENCH_PORT/metrics" || : >"$1"
}

# What the service's latency histograms gained since snapshot $1 (scripts/metrics-delta.py),
# to file $2.
metrics_since() {
  local after
  after=$(mktemp)
  scrape_metrics "$after"
  python3 "$ROOT/scripts/metrics-delta.py" "$1" "$after" >"$2" || echo '{}' >"$2"
  rm -f "$after"
}

# Runs k6 script $2 as scenario $1 (k6 -e flags follow) while sampling /proc; writes
# $WORK/$1.json (k6's summary), $WORK/$1.env (what the sampler saw) and $WORK/$1.calls.json
# (mean time per API operation and per storage call).
run_scenario() {
  local name=$1 script=$2
  shift 2
  local -a vars=(-e "K6_BASE_URL=http://127.0.0.1:$BENCH_PORT" -e "JWT_SECRET=$JWT_SECRET" "$@")
  log "scenario $name: k6 run k6/$script ${*//-e /}"
  local weed_pid
  weed_pid=$(<"$ROOT/.stack/run/weed.pid")
  local busy0 idle0 iowait0
  read -r busy0 idle0 iowait0 <<<"$(machine_ticks)"
  local service0 weed0 pg0 rabbit0 started=$SECONDS window_start
  window_start=$(pg_psql -d "$BENCH_DATABASE" -c "SELECT now()")
  service0=$(cpu_ticks "$SERVICE_PID") weed0=$(cpu_ticks "$weed_pid")
  pg0=$(cpu_ticks_named postgres) rabbit0=$(cpu_ticks_named beam.smp)
  scrape_metrics "$WORK/$name.metrics"

  "$K6" run --quiet --no-usage-report --summary-export "$WORK/$name.json" "${vars[@]}" "k6/$script" \
    >"$WORK/$name.log" 2>&1 &
  K6_PID=$!
  local peak_service=0 peak_k6=0 peak_weed=0 min_available=999999999 k6_ticks=0 stopped=""
  local rss available ticks
  while kill -0 "$K6_PID" 2>/dev/null; do
    rss=$(rss_kb "$SERVICE_PID"); ((rss > peak_service)) && peak_service=$rss
    rss=$(rss_kb "$K6_PID"); ((rss > peak_k6)) && peak_k6=$rss
    rss=$(rss_kb "$weed_pid"); ((rss > peak_weed)) && peak_weed=$rss
    ticks=$(cpu_ticks "$K6_PID"); ((ticks > k6_ticks)) && k6_ticks=$ticks
    available=$(mem_available_kb); ((available < min_available)) && min_available=$available
    if [[ -z $stopped ]] && ((available < BENCH_MIN_AVAILABLE_MB * 1024)); then
      stopped="memory: under ${BENCH_MIN_AVAILABLE_MB} MB available"
      log "scenario $name: stopping k6 early ($stopped)"
      kill -INT "$K6_PID" 2>/dev/null || true
    fi
    kill -0 "$SERVICE_PID" 2>/dev/null || { kill -INT "$K6_PID" 2>/dev/null; die "the service died during $name"; }
    sleep 0.2
  done
  local k6_exit=0
  wait "$K6_PID" || k6_exit=$?
  K6_PID=
  local clk busy idle iowait
  read -r busy idle iowait <<<"$(machine_ticks)"
  clk=$(getconf CLK_TCK)
  cat >"$WORK/$name.env" <<ENV
name=$name
script=$script
params=${*//-e /}
k6_exit=$k6_exit
stopped=$stopped
wall_s=$((SECONDS - started))
clk_tck=$clk
peak_service_kb=$peak_service
peak_k6_kb=$peak_k6
peak_weed_kb=$peak_weed
min_available_kb=$min_available
cpu_service_ticks=$(($(cpu_ticks "$SERVICE_PID") - service0))
cpu_weed_ticks=$(($(cpu_ticks "$weed_pid") - weed0))
cpu_k6_ticks=$k6_ticks
cpu_postgres_ticks=$(($(cpu_ticks_named postgres) - pg0))
cpu_rabbitmq_ticks=$(($(cpu_ticks_named beam.smp) - rabbit0))
machine_busy_ticks=$((busy - busy0))
machine_idle_ticks=$((idle - idle0))
machine_iowait_ticks=$((iowait - iowait0))
ENV
  event_to_job_by_trigger "$window_start" >"$WORK/$name.outbox"
  metrics_since "$WORK/$name.metrics" "$WORK/$name.calls.json"
  case $k6_exit in
    0) log "scenario $name: done, thresholds hold" ;;
    99) log "scenario $name: done, some thresholds crossed (see the report)" ;;
    *) log "scenario $name: k6 exited $k6_exit; last lines of ${WORK#"$ROOT"/}/$name.log:"; tail -n 15 "$WORK/$name.log" >&2 ;;
  esac
  clean_storage
}

run_scenarios() {
  local scenario ramp_confirm
  ramp_confirm=$(confirm_mode)
  local -a common=(-e "PUT_CONCURRENCY=$PUT_CONCURRENCY")
  for scenario in $BENCH_SCENARIOS; do
    case $scenario in
      one-user)
        run_scenario one-user one-user.js "${common[@]}" -e "FILE_SIZE_MB=$FILE_SIZE_MB" \
          -e "ITERATIONS=$ONE_USER_ITERATIONS" ;;
      one-user-checksums)
        # The same flow with a SHA-256 signed into every part URL and verified by storage.
        run_scenario one-user-checksums one-user.js "${common[@]}" -e "FILE_SIZE_MB=$FILE_SIZE_MB" \
          -e "ITERATIONS=$ONE_USER_ITERATIONS" -e "CHECKSUM_ALGORITHM=sha256" ;;
      raw-one-user)
        run_scenario raw-one-user raw.js "${common[@]}" -e "FILE_SIZE_MB=$FILE_SIZE_MB" \
          -e "ITERATIONS=$ONE_USER_ITERATIONS" ;;
      five-users)
        run_scenario five-users five-users.js "${common[@]}" -e "FILE_SIZE_MB=$FILE_SIZE_MB" \
          -e "VUS=$FIVE_USERS_VUS" -e "DURATION=$FIVE_USERS_DURATION" ;;
      raw-five-users)
        run_scenario raw-five-users raw.js "${common[@]}" -e "FILE_SIZE_MB=$FILE_SIZE_MB" \
          -e "VUS=$FIVE_USERS_VUS" -e "DURATION=$FIVE_USERS_DURATION" ;;
      ramp)
        run_scenario ramp ramp.js -e "VUS=$RAMP_VUS" -e "RAMP_UP=$RAMP_UP" -e "HOLD=$RAMP_HOLD" \
          -e "FILE_SIZE_MIN_MB=$RAMP_FILE_MIN_MB" -e "FILE_SIZE_MAX_MB=$RAMP_FILE_MAX_MB" \
          -e "SLEEP_MIN_S=$RAMP_SLEEP_MIN_S" -e "SLEEP_MAX_S=$RAMP_SLEEP_MAX_S" -e "CONFIRM_BY=$ramp_confirm" ;;
      api-stress)
        run_scenario api-stress api-stress.js -e "VUS=$STRESS_VUS" -e "RAMP_UP=$STRESS_RAMP_UP" \
          -e "DURATION=$STRESS_DURATION" -e "SLEEP_S=$STRESS_SLEEP_S" ;;
      *) die "unknown scenario '$scenario'" ;;
    esac
  done
}

# "p95|median|published|unpublished|p95 of single-PUT uploads" of "storage event (or
# complete) received -> job published", in ms, over the outbox rows of this run; nothing when
# there is no outbox yet. Single PUTs are the ones the ramp leaves to storage events.
event_to_job() {
  local db=(-d "$BENCH_DATABASE")
  [[ $(pg_psql "${db[@]}" -c "SELECT to_regclass('outbox') IS NOT NULL") == t ]] || return 0
  pg_psql "${db[@]}" -c "
    SELECT round((extract(epoch FROM percentile_cont(0.95) WITHIN GROUP
                   (ORDER BY published_at - trigger_received_at)) * 1000)::numeric, 2),
           round((extract(epoch FROM percentile_cont(0.5) WITHIN GROUP
                   (ORDER BY published_at - trigger_received_at)) * 1000)::numeric, 2),
           count(*),
           (SELECT count(*) FROM outbox WHERE published_at IS NULL AND created_at > '$BENCH_STARTED_AT'),
           (SELECT round((extract(epoch FROM percentile_cont(0.95) WITHIN GROUP
                           (ORDER BY o.published_at - o.trigger_received_at)) * 1000)::numeric, 2)
              FROM outbox o JOIN uploads u ON u.id = o.upload_id
             WHERE NOT u.multipart AND o.published_at IS NOT NULL AND o.created_at > '$BENCH_STARTED_AT')
      FROM outbox
     WHERE published_at IS NOT NULL AND created_at > '$BENCH_STARTED_AT'" 2>"$WORK/outbox.err" ||
    echo "error"
}

# Per trigger (the complete call, or a storage event), over the jobs created since $1:
# "trigger|jobs|unpublished|p50|p95 of received -> published|p95 of received -> written
# |p95 of written -> published", in ms: `created_at` is when the confirming transaction wrote
# the job (storage already checked), `published_at` when the relay had the broker's confirm. Multipart uploads are always completed by the client (whose call and the storage event
# for it race); single PUTs are left to events when CONFIRM_BY=event.
event_to_job_by_trigger() {
  local db=(-d "$BENCH_DATABASE")
  [[ $(pg_psql "${db[@]}" -c "SELECT to_regclass('outbox') IS NOT NULL") == t ]] || return 0
  pg_psql "${db[@]}" -c "
    WITH jobs AS (
      SELECT CASE WHEN u.multipart THEN 'complete' ELSE '$(confirm_mode)' END AS trigger_kind,
             o.trigger_received_at AS received, o.created_at AS committed, o.published_at AS published
        FROM outbox o JOIN uploads u ON u.id = o.upload_id
       WHERE o.created_at > '$1')
    SELECT trigger_kind, count(*), count(*) FILTER (WHERE published IS NULL),
           round((extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY published - received)) * 1000)::numeric, 1),
           round((extract(epoch FROM percentile_cont(0.95) WITHIN GROUP (ORDER BY published - received)) * 1000)::numeric, 1),
           round((extract(epoch FROM percentile_cont(0.95) WITHIN GROUP (ORDER BY committed - received)) * 1000)::numeric, 1),
           round((extract(epoch FROM percentile_cont(0.95) WITHIN GROUP (ORDER BY published - committed)) * 1000)::numeric, 1)
      FROM jobs GROUP BY trigger_kind ORDER BY trigger_kind" 2>>"$WORK/outbox.err" || true
}

machine_facts() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  cat >"$WORK/machine.env" <<ENV
nproc=$(nproc)
cpu_model=$model
mem_total_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$BENCH_STARTED_AT
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- src Cargo.toml Cargo.lock migrations 2>/dev/null | grep -q . && echo yes || echo no)
build_s=$BUILD_SECONDS
build_given=${BENCH_BIN:+yes}
k6_version=$("$K6" version 2>/dev/null | head -n1)
seaweedfs_version=$("$(weed_bin)" version 2>/dev/null | head -n1)
service_idle_rss_kb=$IDLE_RSS_KB
ramp_confirm_by=$(confirm_mode)
ramp_vus=$RAMP_VUS
put_concurrency=$PUT_CONCURRENCY
scenarios=$BENCH_SCENARIOS
ENV
}

main() {
  local bench_started=$SECONDS
  mkdir -p "$WORK" "$(dirname "$BENCH_REPORT")"
  rm -f "$WORK"/*.json "$WORK"/*.env "$WORK"/*.log
  build
  STACK_NAME=run "$ROOT/scripts/stack.sh" down
  STACK_NAME=run "$ROOT/scripts/stack.sh" up
  K6=$(k6_bin) || die "k6 not found after install"
  export K6_NO_USAGE_REPORT=true
  fresh_database
  trap cleanup EXIT
  start_service
  BENCH_STARTED_AT=$(pg_psql -d "$BENCH_DATABASE" -c "SELECT now()")
  machine_facts
  clean_storage
  run_scenarios
  event_to_job >"$WORK/outbox.txt"
  stop_service
  delete_broker_queues
  log "writing ${BENCH_REPORT#"$ROOT"/} (bench took $((SECONDS - bench_started)) s)"
  python3 - "$WORK" "$BENCH_REPORT" <<'PY'
import json, os, sys

work, report_path = sys.argv[1], sys.argv[2]

def read_env(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            values[key] = value
    return values

machine = read_env(os.path.join(work, "machine.env"))
scenarios = []
for name in machine["scenarios"].split():
    env_path = os.path.join(work, f"{name}.env")
    if not os.path.exists(env_path):
        continue
    meta = read_env(env_path)
    summary_path = os.path.join(work, f"{name}.json")
    metrics = {}
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            metrics = json.load(f).get("metrics", {})
    scenarios.append((name, meta, metrics))
by_name = {name: (meta, metrics) for name, meta, metrics in scenarios}
outbox = open(os.path.join(work, "outbox.txt")).read().strip()

def metric(name, scenario, stat):
    if scenario not in by_name:
        return None
    value = by_name[scenario][1].get(name, {}).get(stat)
    return value

def ms(value):
    if value is None:
        return "n/a"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"

def pct(value, digits=1):
    return "n/a" if value is None else f"{value:.{digits}f} %"

def mb(kb):
    return f"{int(kb) / 1024:.0f} MB"

def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}"

def rate(name, scenario):
    m = by_name.get(scenario, (None, {}))[1].get(name)
    if not m:
        return None, 0, 0
    return m.get("value"), m.get("passes", 0), m.get("fails", 0)

def met(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")

lines = []
add = lines.append
add("# Benchmark report")
add("")
add(f"Written by `make bench` (scripts/bench.sh) at {machine['started_at']} on commit "
    f"`{machine['commit']}`{' with uncommitted changes to the service' if machine['dirty'] == 'yes' else ''}. "
    "Scenarios are the k6 scripts under `k6/`; parameters are listed with each.")
add("")
add(f"- Machine: {machine['nproc']} cores, {machine['cpu_model']}, "
    f"{int(machine['mem_total_kb']) // 1024 // 1024 + 1} GB memory; load average at start {machine['loadavg_start']}.")
add("- **The storage (SeaweedFS `weed mini`), PostgreSQL, RabbitMQ, the service and the load generator (k6) "
    f"all share these {machine['nproc']} cores** and one disk, so every figure includes their contention.")
add(f"- {machine['k6_version']}; SeaweedFS {machine['seaweedfs_version']}; service built in release mode"
    + (" (binary given by BENCH_BIN)." if machine["build_given"] else f" (`cargo build --release`: {machine['build_s']} s)."))
add(f"- 100 MB means 100 MiB (104,857,600 bytes) of random bytes: 12 parts of 8 MiB and one of 4 MiB, "
    f"{machine['put_concurrency']} PUTs in flight per file. Single-PUT uploads in the ramp are confirmed by "
    f"{'storage event' if machine['ramp_confirm_by'] == 'event' else 'the complete call'}.")
add("")

# ---- targets
e2e_med = metric("upload_e2e", "one-user", "med")
e2e_p95_one = metric("upload_e2e", "one-user", "p(95)")
share_med = metric("upload_coordinator_pct", "one-user", "med")
five_p95 = metric("upload_e2e", "five-users", "p(95)")
five_rate, five_ok, five_bad = rate("upload_success", "five-users")
ramp_rate, ramp_ok, ramp_bad = rate("upload_success", "ramp")
ramp_api_p99 = metric("api_latency", "ramp", "p(99)")
peaks = [int(meta["peak_service_kb"]) for _, meta, _ in scenarios]
peak_all = max(peaks) if peaks else None

add("## Targets")
add("")
add("| Target | Measured | |")
add("| --- | --- | --- |")
if e2e_med is not None:
    add(f"| One user, 100 MB, create to confirmed: under 1 s | median {ms(e2e_med)}, p95 {ms(e2e_p95_one)} | {met(e2e_med < 1000)} |")
    add(f"| Coordinator's share of that: under 5 % | median {pct(share_med)} ({ms(metric('upload_coordinator', 'one-user', 'med'))} of it) | {met(share_med < 5)} |")
if five_p95 is not None:
    raw_five_p95 = metric("raw_put", "raw-five-users", "p(95)")
    raw_note = f"; the same PUTs with no coordinator: p95 {ms(raw_five_p95)}" if raw_five_p95 is not None else ""
    add(f"| Five users, 100 MB each: p95 under 3 s, no errors | p95 {ms(five_p95)}, {five_bad} failed of {five_ok + five_bad}{raw_note} | {met(five_p95 < 3000 and five_bad == 0)} |")
if ramp_rate is not None:
    add(f"| {machine['ramp_vus']} concurrent users: success over 99.9 % | {ramp_rate * 100:.2f} % ({ramp_bad} failed of {ramp_ok + ramp_bad}) | {met(ramp_rate > 0.999)} |")
    add(f"| Same: API p99 under 100 ms | p99 {ms(ramp_api_p99)} (single-PUT uploads' calls: p99 {ms(metric('api_latency{plan:single}', 'ramp', 'p(99)'))}; multipart: p99 {ms(metric('api_latency{plan:multipart}', 'ramp', 'p(99)'))}) | {met(ramp_api_p99 is not None and ramp_api_p99 < 100)} |")
event_target = "| Storage event to published job: p95 under 25 ms |"
if not outbox:
    add(f"{event_target} not measured (no outbox yet) | n/a |")
elif outbox == "error":
    add(f"{event_target} not measured (the outbox query failed: see .stack/bench/outbox.err) | n/a |")
else:
    p95, median, published, unpublished, single_p95 = outbox.split("|")
    by_event = (f"; jobs of single PUTs, confirmed by {'storage event' if machine['ramp_confirm_by'] == 'event' else 'complete'}: "
                f"p95 {single_p95} ms") if single_p95 else ""
    if int(published) == 0:
        add(f"{event_target} not measured (no job published; {unpublished} waiting) | n/a |")
    else:
        add(f"{event_target} p95 {p95} ms, median {median} ms over {published} jobs ({unpublished} unpublished){by_event} | {met(float(p95) < 25)} |")
if peak_all is not None:
    add(f"| Service resident memory under 100 MB throughout | peak {mb(peak_all)} (idle {mb(machine['service_idle_rss_kb'])}) | {met(peak_all < 100 * 1024)} |")
add("")

# ---- ratios
add("## Ratios that do not depend on the machine")
add("")
add("| Ratio | Value |")
add("| --- | --- |")
if e2e_med is not None:
    add(f"| Coordinator share of end-to-end time, one user (median of per-upload shares) | {pct(share_med, 2)} |")
if five_p95 is not None:
    add(f"| Coordinator share of end-to-end time, five users (median / p95) | {pct(metric('upload_coordinator_pct', 'five-users', 'med'), 2)} / {pct(metric('upload_coordinator_pct', 'five-users', 'p(95)'), 2)} |")
if "ramp" in by_name:
    add(f"| Coordinator share of end-to-end time, ramp (median / p95) | {pct(metric('upload_coordinator_pct', 'ramp', 'med'), 2)} / {pct(metric('upload_coordinator_pct', 'ramp', 'p(95)'), 2)} |")
raw_one = metric("raw_put", "raw-one-user", "med")
checked_share = metric("upload_coordinator_pct", "one-user-checksums", "med")
if e2e_med is not None and checked_share is not None:
    add(f"| One user, SHA-256 per part verified by storage: coordinator share (median) beside the flow without | {pct(checked_share, 2)} / {pct(share_med, 2)} ({checked_share - share_med:+.2f} points) |")
    add(f"| One user with checksums: end-to-end median / without | {ratio(metric('upload_e2e', 'one-user-checksums', 'med'), e2e_med)} |")
if e2e_med is not None and raw_one is not None:
    add(f"| One user: end-to-end median / raw PUT median of the same bytes | {ratio(e2e_med, raw_one)} ({ms(e2e_med)} / {ms(raw_one)}) |")
    add(f"| One user: PUT phase inside the flow / raw PUT (medians) | {ratio(metric('upload_put', 'one-user', 'med'), raw_one)} |")
raw_five = metric("raw_put", "raw-five-users", "p(95)")
if five_p95 is not None and raw_five is not None:
    add(f"| Five users: end-to-end p95 / raw PUT p95 | {ratio(five_p95, raw_five)} ({ms(five_p95)} / {ms(raw_five)}) |")
    add(f"| Five users: end-to-end median / raw PUT median | {ratio(metric('upload_e2e', 'five-users', 'med'), metric('raw_put', 'raw-five-users', 'med'))} |")
add("")

# ---- where one user's API calls spend their time, beside the storage calls they make
calls_path = os.path.join(work, "one-user.calls.json")
if os.path.exists(calls_path):
    with open(calls_path) as f:
        calls = json.load(f)
    http, storage = calls.get("http", {}), calls.get("storage", {})
    def mean(table, key):
        return table.get(key, {}).get("mean_ms")
    add("## One user: API calls beside the storage calls they make")
    add("")
    add("Means over the one-user scenario, from the service's own histograms "
        "(`uc_http_request_duration_seconds`, `uc_storage_request_duration_seconds`; "
        "scripts/metrics-delta.py). A create makes one CreateMultipartUpload; a complete with "
        "the client's part list makes one CompleteMultipartUpload, and no HEAD.")
    add("")
    add("| call | calls | mean | storage calls it needs (mean) | the rest |")
    add("| --- | --- | --- | --- | --- |")
    for label, route, needs in [
        ("create (multipart)", "POST createUpload", ["CreateMultipartUpload"]),
        ("complete", "POST completeUpload", ["CompleteMultipartUpload"]),
    ]:
        total = mean(http, route)
        if total is None:
            continue
        parts = [(op, mean(storage, op)) for op in needs]
        known = [m for _, m in parts if m is not None]
        spent = " + ".join(f"{op} {m:.2f} ms" for op, m in parts if m is not None) or "n/a"
        rest = f"{total - sum(known):.2f} ms" if known else "n/a"
        add(f"| {label} | {http[route]['calls']} | {total:.2f} ms | {spent} | {rest} |")
    add("")
    add("Every storage call of the scenario: " + ", ".join(
        f"{op} {v['calls']}x {v['mean_ms']:.2f} ms" for op, v in sorted(storage.items())) + ".")
    add("")

# ---- per scenario
add("## Scenarios")
add("")
add("| Scenario | Parameters | Wall | k6 | Uploads ok / failed | Checks failed | Throughput | Service peak RSS |")
add("| --- | --- | --- | --- | --- | --- | --- | --- |")
for name, meta, metrics in scenarios:
    success = metrics.get("upload_success") or metrics.get("raw_success") or metrics.get("api_success") or {}
    checks = metrics.get("checks", {})
    exit_code = meta["k6_exit"]
    status = {"0": "thresholds hold", "99": "thresholds crossed"}.get(exit_code, f"exit {exit_code}")
    if meta["stopped"]:
        status += f", stopped early ({meta['stopped']})"
    sent = metrics.get("uploaded_bytes", {}).get("rate")
    reqs = metrics.get("http_reqs", {}).get("rate")
    throughput = f"{sent / 1e6:.0f} MB/s stored" if sent else (f"{reqs:.0f} requests/s" if reqs else "n/a")
    kind = "API rounds" if name == "api-stress" else "uploads"
    add(f"| {name} | `{meta['params']}` | {meta['wall_s']} s | {status} | {success.get('passes', 0)} / {success.get('fails', 0)} {kind} "
        f"| {checks.get('fails', 0)} of {checks.get('passes', 0) + checks.get('fails', 0)} | {throughput} | {mb(meta['peak_service_kb'])} |")
add("")

trend_rows = [
    ("upload_e2e", "end to end (create -> confirmed)"),
    ("upload_put", "PUT phase"),
    ("upload_coordinator", "coordinator time (end to end - PUT phase)"),
    ("upload_coordinator_pct", "coordinator share, %"),
    ("upload_confirm", "confirmation (last PUT answered -> confirmed seen)"),
    ("raw_put", "raw PUT phase (no coordinator on the clock)"),
    ("api_latency", "API, every call"),
    ("api_latency{plan:single}", "API, single-PUT uploads (create makes no storage request)"),
    ("api_latency{plan:multipart}", "API, multipart uploads (create and complete call storage)"),
    ("api_create", "POST /api/uploads"),
    ("api_create{plan:single}", "POST /api/uploads, single PUT"),
    ("api_create{plan:multipart}", "POST /api/uploads, multipart"),
    ("api_sign", "POST /api/uploads/{id}/parts"),
    ("api_complete", "POST /api/uploads/{id}/complete"),
    ("api_complete{plan:single}", "complete, single PUT"),
    ("api_complete{plan:multipart}", "complete, multipart"),
    ("api_get", "GET /api/uploads/{id} (polling)"),
    ("api_abort", "DELETE /api/uploads/{id}"),
]

def fmt(name, value):
    if value is None:
        return "n/a"
    return f"{value:.2f}" if name.startswith("upload_coordinator_pct") else ms(value)

for name, meta, metrics in scenarios:
    add(f"### {name}")
    add("")
    add("| Measure | median | p95 | p99 | max | count |")
    add("| --- | --- | --- | --- | --- | --- |")
    for key, label in trend_rows:
        m = metrics.get(key)
        if not m or not m.get("count"):
            continue
        add(f"| {label} | {fmt(key, m.get('med'))} | {fmt(key, m.get('p(95)'))} | {fmt(key, m.get('p(99)'))} | {fmt(key, m.get('max'))} | {m.get('count')} |")
    crossed = sorted(f"`{metric_name}: {expr}`" for metric_name, m in metrics.items()
                     for expr, failed in (m.get("thresholds") or {}).items() if failed)
    add("")
    add("Thresholds crossed: " + (", ".join(crossed) if crossed else "none") + ".")
    add("")

# ---- event path
event_rows = []
for name, meta, metrics in scenarios:
    path = os.path.join(work, f"{name}.outbox")
    if os.path.exists(path):
        for line in open(path).read().split():
            event_rows.append([name] + line.split("|"))
if event_rows:
    add("## Confirmation to published job, per scenario")
    add("")
    add("From the outbox rows each scenario created: `trigger_received_at` (the confirming call or storage event reached "
        "the service), `created_at` (the transaction confirming the upload wrote the job, storage already checked) and "
        "`published_at` (the relay had the broker's confirm). Multipart uploads are confirmed by the client's complete "
        "call (its storage event races it); single PUTs by the storage event when the ramp leaves them to events.")
    add("")
    add("| Scenario | Trigger | Jobs | Unpublished | received -> published, median | p95 | p95 received -> written | p95 written -> published |")
    add("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in event_rows:
        name, kind, jobs, unpublished, p50, p95, commit95, relay95 = row
        add(f"| {name} | {kind} | {jobs} | {unpublished} | {p50 or 'n/a'} ms | {p95 or 'n/a'} ms | {commit95 or 'n/a'} ms | {relay95 or 'n/a'} ms |")
    add("")

# ---- resources
add("## Resources per scenario")
add("")
add("CPU seconds used during the scenario by each process (k6 up to its last 200 ms sample), the machine's "
    "busy and I/O-wait shares of all its cores, peak resident memory (sampled every 200 ms) and the least "
    "memory the machine had available.")
add("")
add("| Scenario | Service CPU | SeaweedFS CPU | k6 CPU | PostgreSQL CPU | RabbitMQ CPU | Other processes CPU | Machine busy | I/O wait | Peak RSS service / SeaweedFS / k6 | Least available |")
add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
known = ["cpu_service_ticks", "cpu_weed_ticks", "cpu_k6_ticks", "cpu_postgres_ticks", "cpu_rabbitmq_ticks"]
for name, meta, metrics in scenarios:
    clk = int(meta["clk_tck"])
    total = int(meta["machine_busy_ticks"]) + int(meta["machine_idle_ticks"]) + int(meta["machine_iowait_ticks"])
    def cpu(ticks):
        return f"{ticks / clk:.1f} s"
    other = max(0, int(meta["machine_busy_ticks"]) - sum(int(meta[key]) for key in known))
    busy = 100 * int(meta["machine_busy_ticks"]) / total if total else 0
    iowait = 100 * int(meta["machine_iowait_ticks"]) / total if total else 0
    add(f"| {name} | " + " | ".join(cpu(int(meta[key])) for key in known) + f" | {cpu(other)} "
        f"| {busy:.0f} % | {iowait:.0f} % | {mb(meta['peak_service_kb'])} / {mb(meta['peak_weed_kb'])} / {mb(meta['peak_k6_kb'])} "
        f"| {mb(meta['min_available_kb'])} |")
add("")
add("Other processes: whatever else ran on the machine meanwhile (the kernel, other SeaweedFS instances, builds).")
add("")
api = by_name.get("api-stress")
if api:
    meta, metrics = api
    calls = metrics.get("api_latency", {}).get("count") or 0
    clk = int(meta["clk_tck"])
    service_s = int(meta["cpu_service_ticks"]) / clk
    postgres_s = int(meta["cpu_postgres_ticks"]) / clk
    if calls:
        add(f"API stress: {calls} calls cost the service {service_s * 1000 / calls:.2f} ms of CPU each "
            f"and PostgreSQL {postgres_s * 1000 / calls:.2f} ms each.")
        add("")

with open(report_path, "w") as f:
    f.write("\n".join(lines).rstrip() + "\n")
PY
  # The latest `make bench-peer` figures stay in the report (between its markers).
  if [[ -f $ROOT/bench/PEER.md ]]; then
    printf '\n<!-- bench-peer -->\n' >>"$BENCH_REPORT"
    cat "$ROOT/bench/PEER.md" >>"$BENCH_REPORT"
    printf '<!-- /bench-peer -->\n' >>"$BENCH_REPORT"
  fi
  # What was tuned, and what it bought, is written by hand next to the generated figures.
  if [[ -f $ROOT/bench/TUNING.md ]]; then
    printf '\n' >>"$BENCH_REPORT"
    cat "$ROOT/bench/TUNING.md" >>"$BENCH_REPORT"
  fi
  log "done: ${BENCH_REPORT#"$ROOT"/}"
}

# Run unless sourced (scripts/bench-peer.sh reuses the steps above).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
