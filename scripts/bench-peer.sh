#!/usr/bin/env bash
# `make bench-peer`: this service's Uppy routes side by side with @uppy/companion, the same
# k6 script (k6/peer.js) against both, on the same SeaweedFS (the `run` stack), one after the
# other, while /proc is sampled for the CPU each process spent.
#
#   create: POST /s3/multipart (starts a multipart upload) at PEER_VUS users for PEER_DURATION
#   sign:   GET /s3/multipart/{id}/{n} (signs one part) likewise
#   one-user create: the same create at one user, paced, for its latency alone
#
# The service runs with its default quotas (every create checks them) on a database already
# holding PEER_SEED_UPLOADS uploads, PEER_SEED_OWNER_UPLOADS of them the bench owner's (VU 1,
# and the owner of the upload signed), so every hot-path query meets a full table.
# Companion writes no row and checks no token. Its figures and ours go to bench/PEER.md,
# which is also put into bench/REPORT.md.
#
# Settings (environment): PEER_VUS=50 PEER_DURATION=10s PEER_SEED_UPLOADS=100000
#   PEER_SEED_OWNER_UPLOADS=10000 COMPANION_PORT=3020 BENCH_PORT=8080 BENCH_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The shared steps and /proc readers of `make bench` (sourcing runs nothing).
# shellcheck source=scripts/bench.sh
source "$ROOT/scripts/bench.sh"

COMPANION_VERSION=6.2.2
COMPANION_PORT=${COMPANION_PORT:-3020}
PEER_VUS=${PEER_VUS:-50}
PEER_DURATION=${PEER_DURATION:-10s}
PEER_SEED_UPLOADS=${PEER_SEED_UPLOADS:-100000}
PEER_SEED_OWNER_UPLOADS=${PEER_SEED_OWNER_UPLOADS:-10000}
PEER_REPORT=$ROOT/bench/PEER.md
BENCH_OWNER=bench-owner@bench.example
PEER_DIR=$ROOT/.stack/peer
COMPANION_BUCKET=peer-bench
WORK=$ROOT/.stack/bench-peer
COMPANION_PID=

install_companion() {
  local installed=$PEER_DIR/node_modules/@uppy/companion/package.json
  if [[ -f $installed ]] && grep -q "\"version\": \"$COMPANION_VERSION\"" "$installed"; then
    return 0
  fi
  log "installing @uppy/companion@$COMPANION_VERSION into ${PEER_DIR#"$ROOT"/}"
  mkdir -p "$PEER_DIR"
  npm install --prefix "$PEER_DIR" --no-audit --no-fund --loglevel=error \
    "@uppy/companion@$COMPANION_VERSION" >/dev/null
}

# Companion's standalone server, bound to 127.0.0.1 (its own launcher listens on every
# interface), pointed at a bucket of its own on the run stack's SeaweedFS, so cleaning up after
# it touches nothing else.
start_companion() {
  port_open "$COMPANION_PORT" && die "127.0.0.1:$COMPANION_PORT is taken; set COMPANION_PORT"
  mkdir -p "$WORK/companion-data"
  curl -s -o /dev/null --max-time 10 -X POST "$FILER_URL/buckets/$COMPANION_BUCKET/" ||
    die "could not create the bucket $COMPANION_BUCKET on the filer"
  log "starting Companion $COMPANION_VERSION on 127.0.0.1:$COMPANION_PORT"
  (
    cd "$PEER_DIR"
    NODE_ENV=production \
      AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED \
      COMPANION_PORT=$COMPANION_PORT \
      COMPANION_SECRET=$(head -c 24 /dev/urandom | base64) \
      COMPANION_DOMAIN=127.0.0.1:$COMPANION_PORT COMPANION_PROTOCOL=http \
      COMPANION_DATADIR=$WORK/companion-data \
      COMPANION_UPLOAD_URLS=http://127.0.0.1:1/ COMPANION_CLIENT_ORIGINS=true \
      COMPANION_AWS_KEY=$UC_S3_ACCESS_KEY COMPANION_AWS_SECRET=$UC_S3_SECRET_KEY \
      COMPANION_AWS_BUCKET=$COMPANION_BUCKET COMPANION_AWS_REGION=us-east-1 \
      COMPANION_AWS_ENDPOINT=$S3_ENDPOINT COMPANION_AWS_FORCE_PATH_STYLE=true \
      COMPANION_AWS_PREFIX=peer/ COMPANION_DIR=$PEER_DIR \
      exec node "$ROOT/scripts/companion-local.mjs"
  ) >"$WORK/companion.log" 2>&1 &
  COMPANION_PID=$!
  local deadline=$((SECONDS + 30))
  until port_open "$COMPANION_PORT"; do
    kill -0 "$COMPANION_PID" 2>/dev/null || { tail -n 20 "$WORK/companion.log" >&2; die "Companion exited"; }
    ((SECONDS < deadline)) || die "Companion is not listening after 30 s"
    sleep 0.2
  done
}

stop_companion() {
  stop_process "$COMPANION_PID"
  COMPANION_PID=
}

# `make bench`'s cleanup (k6, the service), and Companion.
peer_cleanup() {
  stop_companion
  cleanup
}

# A full table before the bench: the bench owner's uploads and everyone else's, none pending
# (the reconciler would otherwise ask storage about them during the runs). Triggers are off
# while seeding: these rows announce nothing.
seed_database() {
  log "seeding $PEER_SEED_UPLOADS uploads ($PEER_SEED_OWNER_UPLOADS of them $BENCH_OWNER's)"
  pg_psql -d "$BENCH_DATABASE" <<SQL
SET session_replication_role = replica;
INSERT INTO uploads (id, owner, title, filename, content_type, size, bucket, key,
                     storage_upload_id, multipart, part_size, part_count, status, reason,
                     created_at, updated_at, expires_at, confirmed_at)
SELECT gen_random_uuid(),
       CASE WHEN n <= $PEER_SEED_OWNER_UPLOADS THEN '$BENCH_OWNER'
            ELSE 'peer-vu-' || (n % 1000 + 2) || '@bench.example' END,
       'seeded ' || n, 'seeded-' || n || '.mp4', 'video/mp4', 104857600, '$UC_S3_BUCKET',
       'seeded/' || n || '.mp4', 'seeded-upload-' || n, true, 8388608, 13,
       (ARRAY['processed', 'processed', 'processed', 'processed', 'processed', 'processed',
              'aborted', 'expired', 'failed', 'rejected'])[n % 10 + 1],
       NULL, now() - n * interval '1 minute', now() - n * interval '1 minute',
       now() - n * interval '1 minute' + interval '1 day', NULL
FROM generate_series(1, $PEER_SEED_UPLOADS) AS n;
SET session_replication_role = origin;
ANALYZE uploads;
SQL
}

# Runs k6/peer.js against one peer ($1: ours|companion) for one operation ($2), as scenario
# $3, sampling the CPU each process spent; writes $WORK/$3.json and $WORK/$3.env.
peer_run() {
  local peer=$1 operation=$2 name=$3 vus=${4:-$PEER_VUS} pace=${5:-0} owner=${6:-$BENCH_OWNER}
  local url=http://127.0.0.1:$BENCH_PORT
  [[ $peer == companion ]] && url=http://127.0.0.1:$COMPANION_PORT
  log "scenario $name: $operation against $peer, $vus VUs for $PEER_DURATION"
  local clk before_service before_node before_pg before_weed started
  clk=$(getconf CLK_TCK)
  before_service=$(cpu_ticks "$SERVICE_PID")
  before_node=$(cpu_ticks "$COMPANION_PID")
  before_pg=$(cpu_ticks_named postgres)
  before_weed=$(cpu_ticks_named weed)
  started=$(date +%s.%N)
  [[ $peer == ours ]] && scrape_metrics "$WORK/$name.metrics"
  "$K6" run --quiet --no-usage-report --summary-export "$WORK/$name.json" \
    -e PEER="$peer" -e PEER_URL="$url" -e OPERATION="$operation" -e VUS="$vus" \
    -e DURATION="$PEER_DURATION" -e JWT_SECRET="$JWT_SECRET" -e BENCH_OWNER="$owner" \
    -e PACE_S="$pace" \
    "$ROOT/k6/peer.js" >"$WORK/$name.log" 2>&1 &
  K6_PID=$!
  wait "$K6_PID" || { tail -n 30 "$WORK/$name.log" >&2; die "k6 failed in $name"; }
  K6_PID=
  [[ $peer == ours ]] && metrics_since "$WORK/$name.metrics" "$WORK/$name.calls.json"
  cat >"$WORK/$name.env" <<ENV
peer=$peer
operation=$operation
vus=$vus
seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
clk_tck=$clk
cpu_service=$(($(cpu_ticks "$SERVICE_PID") - before_service))
cpu_companion=$(($(cpu_ticks "$COMPANION_PID") - before_node))
cpu_postgres=$(($(cpu_ticks_named postgres) - before_pg))
cpu_weed=$(($(cpu_ticks_named weed) - before_weed))
ENV
}

# One user on a quiet machine through the native API (k6/quiet-calls.js, operation $1): how
# long a create or a complete takes in the service beside its storage calls, read from the
# service's histograms into $WORK/quiet-$1.calls.json.
quiet_run() {
  local operation=$1 name=quiet-$1
  log "scenario $name: one user, native API, $operation"
  # Three iterations first, not counted: the first call on each pooled connection prepares its
  # statements and warms its PostgreSQL backend, which a mean of ten would carry.
  quiet_k6 "$operation" "$name-warmup" -e ITERATIONS=3
  # The earlier runs' uploads leave seconds of writeback behind them.
  sync
  scrape_metrics "$WORK/$name.metrics"
  quiet_k6 "$operation" "$name"
  metrics_since "$WORK/$name.metrics" "$WORK/$name.calls.json"
}

quiet_k6() {
  local operation=$1 name=$2
  shift 2
  "$K6" run --quiet --no-usage-report --summary-export "$WORK/$name.summary.json" \
    -e "K6_BASE_URL=http://127.0.0.1:$BENCH_PORT" \
    -e JWT_SECRET="$JWT_SECRET" -e OPERATION="$operation" "$@" \
    "$ROOT/k6/quiet-calls.js" >"$WORK/$name.log" 2>&1 &
  K6_PID=$!
  wait "$K6_PID" || { tail -n 30 "$WORK/$name.log" >&2; die "k6 failed in $name"; }
  K6_PID=
}

# What the runs left in storage: our pending uploads' multipart uploads (named by the bench
# database, as clean_storage does) and Companion's whole bucket.
clean_peer_uploads() {
  local upload_id
  pg_psql -d "$BENCH_DATABASE" \
    -c "SELECT storage_upload_id FROM uploads WHERE status = 'pending' AND storage_upload_id IS NOT NULL" |
    while read -r upload_id; do
      [[ $upload_id == seeded-upload-* ]] && continue
      printf '%s\n' "$upload_id"
    done |
    xargs -r -P 8 -I '{}' curl -s -o /dev/null --max-time 10 -X DELETE \
      "$FILER_URL/buckets/$UC_S3_BUCKET/.uploads/{}?recursive=true&ignoreRecursiveError=true" || true
  curl -s -o /dev/null --max-time 120 -X DELETE \
    "$FILER_URL/buckets/$COMPANION_BUCKET?recursive=true&ignoreRecursiveError=true" || true
}

write_peer_report() {
  python3 - "$WORK" "$PEER_REPORT" "$ROOT/bench/REPORT.md" <<'PY'
import json, os, sys

work, peer_path, report_path = sys.argv[1:4]

def env(name):
    values = {}
    with open(os.path.join(work, f"{name}.env")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            values[key] = value
    return values

def run(name):
    meta = env(name)
    with open(os.path.join(work, f"{name}.json")) as f:
        metrics = json.load(f)["metrics"]
    ok = metrics.get("peer_ok", {}).get("count", 0)
    failed = metrics.get("peer_failed", {}).get("count", 0)
    seconds = float(meta["seconds"])
    clk = int(meta["clk_tck"])
    per_call = lambda key: (int(meta[key]) / clk * 1000 / ok) if ok else float("nan")
    latency = metrics["peer_latency"]
    return {
        "ok": ok, "failed": failed, "rate": ok / seconds,
        "p50": latency["med"], "p99": latency["p(99)"], "avg": latency["avg"],
        "service": per_call("cpu_service"), "companion": per_call("cpu_companion"),
        "postgres": per_call("cpu_postgres"), "weed": per_call("cpu_weed"),
        "vus": meta["vus"],
    }

machine = env("machine")
lines = ["## Side by side with Companion (`make bench-peer`)", ""]
add = lines.append
add(f"Measured {machine['started_at']} at commit {machine['commit']}"
    f"{' (uncommitted changes)' if machine['dirty'] == 'yes' else ''}, {machine['nproc']} cores "
    f"({machine['cpu_model']}), one SeaweedFS ({machine['seaweedfs']}; Companion in a bucket of its own), "
    f"@uppy/companion {machine['companion']} (AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED), "
    f"{machine['k6']}. The same script, k6/peer.js, against both, one run after the other, "
    f"{machine['duration']} each. Our database held {machine['seeded']} uploads before the runs, "
    f"{machine['seeded_owner']} of them the bench owner's; quotas at their defaults.")
add("")
add("| operation | peer | VUs | calls ok | failed | calls/s | p50 | p99 | CPU per call: service | PostgreSQL | SeaweedFS |")
add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
rows = {}
for name, label, operation in [
    ("companion-create", "Companion", "create"), ("ours-create", "ours", "create"),
    ("companion-sign", "Companion", "sign"), ("ours-sign", "ours", "sign"),
    ("ours-create-one-user", "ours", "create"),
]:
    if not os.path.exists(os.path.join(work, f"{name}.env")):
        continue
    r = run(name)
    rows[name] = r
    cpu = r["companion"] if label == "Companion" else r["service"]
    add(f"| {operation} | {label} | {r['vus']} | {r['ok']} | {r['failed']} | {r['rate']:.0f} "
        f"| {r['p50']:.1f} ms | {r['p99']:.1f} ms | {cpu:.2f} ms | {r['postgres']:.2f} ms | {r['weed']:.2f} ms |")
add("")
def ratio(ours, theirs):
    if ours in rows and theirs in rows and rows[theirs]["rate"]:
        return rows[ours]["rate"] / rows[theirs]["rate"]
    return None
create, sign = ratio("ours-create", "companion-create"), ratio("ours-sign", "companion-sign")
if create is not None:
    add(f"Create: ours {create:.1f}x Companion's rate, p99 {rows['ours-create']['p99']:.1f} ms "
        f"(target: at least 2x, p99 under 50 ms).")
if sign is not None:
    add(f"Sign: ours {sign:.1f}x Companion's rate, p99 {rows['ours-sign']['p99']:.1f} ms "
        f"(target: at least 5x, p99 under 30 ms).")
add("")
for name, label in [("ours-create", "50 VUs"), ("ours-create-one-user", "one user")]:
    path = os.path.join(work, f"{name}.calls.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        calls = json.load(f)
    http = sum(v["calls"] for k, v in calls.get("http", {}).items() if k.startswith("POST uppy"))
    mean_http = sum(v["calls"] * v["mean_ms"] for k, v in calls.get("http", {}).items()
                    if k.startswith("POST uppy")) / http if http else None
    storage = calls.get("storage", {}).get("CreateMultipartUpload")
    if mean_http is not None and storage:
        add(f"Create, {label}: mean {mean_http:.2f} ms in the service, of which its "
            f"CreateMultipartUpload {storage['mean_ms']:.2f} ms ({mean_http - storage['mean_ms']:.2f} ms "
            f"the rest), from the service's own histograms.")
add("")
quiet = []
for name, route, operation in [("quiet-create", "POST createUpload", "CreateMultipartUpload"),
                               ("quiet-complete", "POST completeUpload", "CompleteMultipartUpload")]:
    path = os.path.join(work, f"{name}.calls.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        calls = json.load(f)
    call = calls.get("http", {}).get(route)
    storage = calls.get("storage", {}).get(operation)
    if call and storage:
        heads = calls.get("storage", {}).get("HeadObject", {}).get("calls", 0)
        median = "n/a"
        summary_path = os.path.join(work, f"{name}.summary.json")
        if os.path.exists(summary_path):
            with open(summary_path) as f:
                trend = json.load(f).get("metrics", {}).get(f"api_{name.split('-')[1]}", {})
            if "med" in trend:
                median = f"{trend['med']:.2f} ms"
        quiet.append(f"| {route.split()[1]} | {call['calls']} | {call['mean_ms']:.2f} ms | {median} | "
                     f"{operation} {storage['mean_ms']:.2f} ms | {call['mean_ms'] - storage['mean_ms']:.2f} ms | {heads} |")
if quiet:
    add("One user through the native API on an otherwise quiet machine (k6/quiet-calls.js: 100 MiB "
        "files of 13 parts; creates paced 200 ms apart, each signing its 13 part URLs; each "
        "complete with its part list, a second after its PUTs; three iterations first, not counted), "
        "means from the service's histograms beside the median k6 saw (a few slow calls, from "
        "the disk's writeback of the uploads, move a mean of ten):")
    add("")
    add("| call | calls | mean in the service | median at the client (k6) | its storage call (mean) | the rest (means) | HEADs meanwhile |")
    add("| --- | --- | --- | --- | --- | --- | --- |")
    lines.extend(quiet)
    add("")
    add("HEADs meanwhile would be the storage-event door's, not the complete's: SeaweedFS posts an "
        "assembled object's event while CompleteMultipartUpload answers, and an event alone proves "
        "nothing; the door waits for a complete running on its replica, then finds the upload "
        "confirmed.")
    add("")
add("The one-user run is paced (one create every 200 ms, within the default 600 per minute): "
    "its rate is the pace; its latencies are a lone user's.")
add("")
add("CPU per call is each process's CPU time over the run divided by the calls that succeeded "
    "(Companion's column is its Node process; the service's is ours). Companion writes no "
    "database row: PostgreSQL's figure in its rows is what else ran meanwhile.")
section = "\n".join(lines).rstrip() + "\n"
with open(peer_path, "w") as f:
    f.write(section)

# The report keeps one copy of this section, replaced on every run.
begin, end = "<!-- bench-peer -->", "<!-- /bench-peer -->"
report = open(report_path).read() if os.path.exists(report_path) else "# Benchmarks\n"
block = f"{begin}\n{section}{end}\n"
if begin in report and end in report:
    head, rest = report.split(begin, 1)
    report = head + block + rest.split(end, 1)[1].lstrip("\n")
else:
    report = report.rstrip("\n") + "\n\n" + block
with open(report_path, "w") as f:
    f.write(report)
PY
}

peer_main() {
  mkdir -p "$WORK" "$ROOT/bench"
  rm -f "$WORK"/*.json "$WORK"/*.env "$WORK"/*.log
  install_deps
  install_companion
  build
  STACK_NAME=run "$ROOT/scripts/stack.sh" up
  K6=$(k6_bin) || die "k6 not found after install"
  export K6_NO_USAGE_REPORT=true
  fresh_database
  trap peer_cleanup EXIT
  start_service
  seed_database
  start_companion
  cat >"$WORK/machine.env" <<ENV
nproc=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
started_at=$(date -u +%Y-%m-%dT%H:%MZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$([[ -n $(git status --porcelain -- src Cargo.toml Cargo.lock migrations k6 2>/dev/null) ]] && echo yes || echo no)
seaweedfs=$("$(weed_bin)" version 2>/dev/null | head -n1 | sed 's/^version //')
companion=$COMPANION_VERSION
k6=$("$K6" version 2>/dev/null | head -n1)
duration=$PEER_DURATION
seeded=$PEER_SEED_UPLOADS
seeded_owner=$PEER_SEED_OWNER_UPLOADS
ENV
  peer_run companion create companion-create
  peer_run ours create ours-create
  peer_run companion sign companion-sign
  peer_run ours sign ours-sign
  # One user, one create every 200 ms (within the default 600 per minute), an owner of its own.
  peer_run ours create ours-create-one-user 1 0.2 one-user@bench.example
  stop_companion
  quiet_run create
  quiet_run complete
  stop_service
  delete_broker_queues
  clean_peer_uploads
  clean_storage
  write_peer_report
  log "done: ${PEER_REPORT#"$ROOT"/} (and its section in bench/REPORT.md)"
}

peer_main "$@"
