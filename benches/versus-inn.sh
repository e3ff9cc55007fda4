#!/usr/bin/env bash
# Ingest side by side with INN (issue 18): the same load generator sends
# the same kind of signed 1 KiB articles (pipelined TAKETHIS, 4
# connections, window 64) to INN 2.7 with CNFS storage and to a tidings
# node, each on a freshly made ext4 file system, alternating the two for
# ROUNDS rounds in one run. For each run it prints the rate, the server's
# CPU seconds (user + system, from /proc) per article, and its peak RSS.
#
#   benches/versus-inn.sh [ROUNDS]          (as root: loop mounts, INN)
#
# Environment: ARTICLES (200000), CONNECTIONS (4), WINDOW (64), SIZE
# (1024), FS_MB (the file system, 6144), CNFS_MB (INN's buffer, 3072),
# TIDINGS (the binary; default target/release/tidings, built if missing),
# WORK (scratch directory, default a new one under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
articles=${ARTICLES:-200000}
connections=${CONNECTIONS:-4}
window=${WINDOW:-64}
size=${SIZE:-1024}
fs_mb=${FS_MB:-6144}
cnfs_mb=${CNFS_MB:-3072}
inn=conformance/inn/throwaway-inn.sh
group=bench.group

[ "$(id -u)" -eq 0 ] || { echo "versus-inn: run as root (loop mounts, INN as news)" >&2; exit 1; }
tidings=${TIDINGS:-target/release/tidings}
if [ ! -x "$tidings" ]; then
  cargo build --release --bin tidings
fi
tidings=$(realpath "$tidings")
"$inn" install

work=${WORK:-$(mktemp -d /tmp/versus-inn.XXXXXX)}
mkdir -p "$work"
work=$(realpath "$work")
chmod 755 "$work"
mnt=$work/mnt
mkdir -p "$mnt"
ticks=$(getconf CLK_TCK)

# Each round's INN gets a directory of its own, so stopping one never
# touches the next (the script finds an INN's processes by its directory).

cleanup() {
  local dir
  for dir in "$mnt"/inn-*; do
    [ -d "$dir" ] && "$inn" stop "$dir" >/dev/null 2>&1 || true
  done
  [ -n "${node_pid:-}" ] && kill -9 "$node_pid" 2>/dev/null || true
  release_fs || true
  rm -f "$work/fs.img"
}
trap cleanup EXIT

# Unmounts $mnt once the last server's files are closed (INN's helpers
# may take a moment to go).
release_fs() {
  local i
  for ((i = 0; i < 50; i++)); do
    mountpoint -q "$mnt" || return 0
    umount "$mnt" 2>/dev/null && return 0
    sleep 0.2
  done
  umount -l "$mnt"
}

# A new ext4 on a loop device at $mnt, caches dropped.
fresh_fs() {
  release_fs
  rm -f "$work/fs.img"
  truncate -s "${fs_mb}M" "$work/fs.img"
  mkfs.ext4 -q -F "$work/fs.img"
  mount -o loop "$work/fs.img" "$mnt"
  chmod 755 "$mnt"
  sync
  echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}

# CPU seconds (user + system) a process has used so far.
cpu_of() {
  awk -v t="$ticks" '{ print ($14 + $15) / t }' "/proc/$1/stat"
}

# Peak resident memory of a process, in MiB.
rss_of() {
  awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"
}

port_free() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs the load against PORT, served by PID: prints "rate cpu rss".
measure() {
  local port=$1 pid=$2 key=$3 before after out rate
  before=$(cpu_of "$pid")
  if ! out=$("$tidings" loadgen --target "127.0.0.1:$port" --connections "$connections" \
    --articles "$articles" --size "$size" --window "$window" --group "$group" --key "$key"); then
    echo "versus-inn: the load generator failed against 127.0.0.1:$port (pid $pid); logs:" >&2
    tail -n 20 "${inn_dir:-$mnt/no-inn}"/log/* "$work/tidings.log" 2>/dev/null >&2 || true
    exit 1
  fi
  after=$(cpu_of "$pid")
  echo "    loadgen: $out" >&2
  case $out in
  *" 0 refused, 0 other"*) ;;
  *) echo "versus-inn: not every article was taken: $out" >&2; exit 1 ;;
  esac
  rate=$(sed -E 's/.*: ([0-9]+) articles\/s.*/\1/' <<<"$out")
  echo "$rate $(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }') $(rss_of "$pid")"
}

run_inn() {
  fresh_fs
  local port pid key=$work/load.key
  port=$(port_free)
  inn_dir=$mnt/inn-$round
  INN_STORAGE=cnfs INN_CNFS_MB=$cnfs_mb INN_EXTRA_GROUPS=$group \
    "$inn" start "$inn_dir" "$port" >/dev/null
  pid=$(cat "$inn_dir/run/innd.pid")
  measure "$port" "$pid" "$key"
  "$inn" stop "$inn_dir" >/dev/null
}

run_tidings() {
  fresh_fs
  local port data=$mnt/tidings result
  port=$(port_free)
  mkdir -p "$data"
  # The load is signed with the node's own key, which the node trusts.
  "$tidings" keygen --out "$data/node.key" >/dev/null
  cat >"$work/tidings.toml" <<EOF
[node]
name = "bench.invalid"
data_dir = "$data"
[listen]
nntp = "127.0.0.1:$port"
http = false
admin = false
open_transit = true
[[group]]
name = "$group"
EOF
  RUST_LOG=warn "$tidings" serve --config "$work/tidings.toml" 2>"$work/tidings.log" &
  node_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  result=$(measure "$port" "$node_pid" "$data/node.key")
  kill -TERM "$node_pid"
  wait "$node_pid" || true
  node_pid=
  echo "$result"
}

"$tidings" keygen --out "$work/load.key" >/dev/null
echo "versus-inn: $rounds rounds of $articles signed ${size}-octet articles," \
  "$connections connections, window $window; $(nproc) cores, $(uname -r)"
printf '%-8s %5s %12s %8s %14s %10s %8s\n' server round articles/s cpu-s "articles/cpu-s" "us/article" "rss-MiB"
report() {
  local server=$1 round=$2 rate=$3 cpu=$4 rss=$5
  awk -v s="$server" -v r="$round" -v rate="$rate" -v cpu="$cpu" -v rss="$rss" -v n="$articles" \
    'BEGIN { printf "%-8s %5d %12d %8.2f %14.0f %10.1f %8d\n", s, r, rate, cpu, n / cpu, cpu / n * 1e6, rss }'
}
declare -a inn_rates tidings_rates
for ((round = 1; round <= rounds; round++)); do
  # Alternate which goes first, so neither always meets a warmer machine.
  if ((round % 2)); then order=(inn tidings); else order=(tidings inn); fi
  for server in "${order[@]}"; do
    read -r rate cpu rss < <("run_$server")
    report "$server" "$round" "$rate" "$cpu" "$rss"
    if [ "$server" = inn ]; then inn_rates+=("$rate"); else tidings_rates+=("$rate"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
inn_median=$(median "${inn_rates[@]}")
tidings_median=$(median "${tidings_rates[@]}")
awk -v i="$inn_median" -v t="$tidings_median" \
  'BEGIN { printf "median articles/s: INN-CNFS %d, tidings %d: tidings / INN = %.2f\n", i, t, t / i }'
