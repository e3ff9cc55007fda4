#!/usr/bin/env bash
# A big store and a new node's catch-up from it (issue 18): the load
# generator sends ARTICLES signed articles of SIZE octets to node A (4
# connections, window 64, as benches/versus-inn.sh does), A's resident
# memory is sampled all along; then a new node B, peered with A and empty,
# runs `tidings sync --peer A` and takes the whole history, B's memory
# sampled likewise. Prints A's rate, peak RSS and on-disk bytes per article
# (the data directory right after the load: write-ahead log included, so
# small runs look big; articles are LZ4-compressed and the generator's
# bodies repeat one line, so big runs look small), then the catch-up's
# MB/s of articles (bytes in over the sync's seconds, as `tidings sync`
# reports them) and B's peak RSS, and the CPU each node spent on its part,
# by thread. A load of more than 1 GiB is signed while it is sent, on the
# same cores (see `tidings loadgen`).
#
#   benches/catchup.sh                      (no root needed)
#
# Environment: ARTICLES (200000; 10000000 for the issue's 10M-article
# store), SIZE (1024), CONNECTIONS (4), WINDOW (64), TIDINGS (the binary;
# default target/release/tidings, built if missing), WORK (scratch
# directory on the disk to measure, default a new one under /var/tmp,
# removed at the end unless KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."

articles=${ARTICLES:-200000}
size=${SIZE:-1024}
connections=${CONNECTIONS:-4}
window=${WINDOW:-64}
group=bench.catchup

tidings=${TIDINGS:-target/release/tidings}
if [ ! -x "$tidings" ]; then
  cargo build --release --bin tidings
fi
tidings=$(realpath "$tidings")
work=${WORK:-$(mktemp -d /var/tmp/tidings-catchup.XXXXXX)}
mkdir -p "$work"
work=$(realpath "$work")

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

port_free() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Peak resident memory of a process, in MiB.
hwm_of() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# CPU seconds a process has used (user and system), and the same by thread
# name (the commit thread, the verifiers, RocksDB's flush and compaction
# threads, the async workers), for where the time went.
ticks=$(getconf CLK_TCK)
cpu_of() { awk -v t="$ticks" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$1/stat"; }
threads_of() {
  for task in /proc/"$1"/task/*; do
    echo "$(tr ' ' '_' <"$task/comm") $(awk '{ print $14 + $15 }' "$task/stat")"
  done | awk -v t="$ticks" '{ s[$1] += $2 } END { for (n in s) if (s[n] >= t) { printf " %s %.0f", n, s[n] / t; k++ }
    if (!k) printf " none over 1 s" }'
}

wait_port() {
  local port=$1
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "catchup: nothing listens on $port" >&2
  exit 1
}

# Samples a process's resident memory every 0.2 s into FILE (MiB, one a
# line) until the process ends or the sampler is killed.
sample_rss() {
  local pid=$1 file=$2
  while [ -r "/proc/$pid/status" ]; do
    awk '/^VmRSS:/ { printf "%.0f\n", $2 / 1024 }' "/proc/$pid/status" >>"$file" 2>/dev/null || true
    sleep 0.2
  done
}
max_of() { sort -n "$1" | tail -n 1; }

# Bytes under a node's directory. RocksDB may delete a file (an old WAL)
# while du walks the directory, which du reports and exits 1 for; the
# total it prints is still the store's size.
disk_of() { { du -sb "$1" 2>/dev/null || true; } | cut -f1; }

a_port=$(port_free)
b_port=$(port_free)
mkdir -p "$work/a" "$work/b"
a_pub=$("$tidings" keygen --out "$work/a/node.key")
b_pub=$("$tidings" keygen --out "$work/b/node.key")

# Both nodes leave catch-up to the explicit `tidings sync`, so its figures
# are the catch-up's alone.
cat >"$work/a.toml" <<EOF
[node]
name = "a.bench.invalid"
data_dir = "$work/a"
[listen]
nntp = "127.0.0.1:$a_port"
http = false
admin = false
open_transit = true
[feed]
catch_up = false
[[group]]
name = "$group"
[[peer]]
name = "b.bench.invalid"
key = "$b_pub"
EOF
cat >"$work/b.toml" <<EOF
[node]
name = "b.bench.invalid"
data_dir = "$work/b"
[listen]
nntp = "127.0.0.1:$b_port"
http = false
admin = false
[feed]
catch_up = false
[[group]]
name = "$group"
[[peer]]
name = "a.bench.invalid"
key = "$a_pub"
address = "127.0.0.1:$a_port"
EOF

echo "catchup: $articles signed ${size}-octet articles into A, then a new node B syncs from A;" \
  "$(nproc) cores, $(uname -r), work in $work"

# Starts node NAME (a or b) listening on PORT, its memory sampled into
# $work/NAME.rss; sets node_pid.
start_node() {
  local name=$1 port=$2
  RUST_LOG=warn "$tidings" serve --config "$work/$name.toml" 2>"$work/$name.log" &
  node_pid=$!
  pids+=("$node_pid")
  disown "$node_pid"
  wait_port "$port"
  sample_rss "$node_pid" "$work/$name.rss" &
  pids+=("$!")
  disown "$!"
}

start_node a "$a_port"
a_pid=$node_pid
# Signed with A's own key, which A trusts as its node key and B as its
# peer's.
out=$("$tidings" loadgen --target "127.0.0.1:$a_port" --connections "$connections" \
  --articles "$articles" --size "$size" --window "$window" --group "$group" --key "$work/a/node.key")
echo "A ingest: $out"
case $out in
*" 0 refused, 0 other"*) ;;
*) echo "catchup: not every article was taken" >&2; exit 1 ;;
esac
a_disk=$(disk_of "$work/a")
awk -v d="$a_disk" -v n="$articles" -v hwm="$(hwm_of "$a_pid")" -v max="$(max_of "$work/a.rss")" \
  'BEGIN { printf "A store: %d articles, %.0f MB on disk, %.0f bytes per article; RSS peak %d MiB (sampled max %d MiB)\n", n, d / 1e6, d / n, hwm, max }'
a_cpu=$(cpu_of "$a_pid")
awk -v c="$a_cpu" -v n="$articles" -v th="$(threads_of "$a_pid")" \
  'BEGIN { printf "A CPU: %.1f s, %.1f us per article; by thread (s):%s\n", c, c * 1e6 / n, th }'

start_node b "$b_port"
b_pid=$node_pid
: >"$work/a.rss"
sync_out=$("$tidings" sync --peer a.bench.invalid --config "$work/b.toml" 2>"$work/sync.progress")
echo "B $sync_out"
fetched=$(sed -E 's/.* ([0-9]+) fetched.*/\1/' <<<"$sync_out")
if [ "$fetched" != "$articles" ]; then
  echo "catchup: B fetched $fetched of $articles" >&2
  tail -n 5 "$work/sync.progress" "$work/b.log" "$work/a.log" >&2
  exit 1
fi
bytes_in=$(sed -E 's/.* ([0-9]+) bytes in.*/\1/' <<<"$sync_out")
seconds=$(sed -E 's/.* ([0-9.]+) s$/\1/' <<<"$sync_out")
b_disk=$(disk_of "$work/b")
awk -v b="$bytes_in" -v s="$seconds" -v n="$articles" -v hwm="$(hwm_of "$b_pid")" \
  -v max="$(max_of "$work/b.rss")" -v amax="$(max_of "$work/a.rss")" -v d="$b_disk" \
  'BEGIN { printf "catch-up: %.1f MB/s of articles (%.0f articles/s); B RSS peak %d MiB (sampled max %d MiB), A RSS while serving max %d MiB; B %.0f bytes per article on disk\n", b / s / 1e6, n / s, hwm, max, amax, d / n }'
awk -v c="$(cpu_of "$b_pid")" -v a="$(cpu_of "$a_pid")" -v a0="$a_cpu" -v n="$articles" \
  -v th="$(threads_of "$b_pid")" \
  'BEGIN { printf "catch-up CPU: B %.1f s, %.1f us per article; A serving %.1f s, %.1f us per article; B by thread (s):%s\n", c, c * 1e6 / n, a - a0, (a - a0) * 1e6 / n, th }'
