#!/usr/bin/env bash
# A throwaway INN (Debian package inn2, 2.7) on 127.0.0.1, all of whose
# state lives in one directory, so several can run at once and nothing in
# /etc/news, /var/lib/news or /var/spool/news is read or written. See
# README.md next to this script.
#
#   throwaway-inn.sh install
#   throwaway-inn.sh start DIR PORT [PATHHOST]
#   throwaway-inn.sh feed DIR NAME HOST:PORT [WILDMAT]
#   throwaway-inn.sh unfeed DIR NAME
#   throwaway-inn.sh flush DIR
#   throwaway-inn.sh stop DIR
#
# Storage is tradspool (a file per article) unless INN_STORAGE=cnfs: then
# one cyclic buffer of INN_CNFS_MB megabytes (default 4096), the method busy
# INN sites use (benches/versus-inn.sh measures against it).
#
# INN programs find their configuration through the INNCONF environment
# variable; every path in DIR/inn.conf points under DIR. innd runs as the
# `news` user (the script must run as root or as news).
set -euo pipefail

PATHNEWS=/usr/lib/news
BIN=$PATHNEWS/bin
# Groups of every throwaway INN; add more with INN_EXTRA_GROUPS="a.b c.d".
GROUPS_Y=(test.conformance tidings.interop)
GROUPS_N=(control control.cancel junk)

die() {
  echo "throwaway-inn: $*" >&2
  exit 1
}

usage() {
  sed -n '7,13p' "$0" | sed 's/^# \{0,3\}//' >&2
  exit 2
}

# Runs a command as news with DIR's INNCONF (and nothing else of ours in
# the environment).
as_news() {
  local dir=$1
  shift
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=news --regid=news --init-groups \
      env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin:$BIN HOME="$dir" \
      INNCONF="$dir/inn.conf" "$@"
  elif [ "$(id -un)" = news ]; then
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin:$BIN HOME="$dir" \
      INNCONF="$dir/inn.conf" "$@"
  else
    die "must run as root or as news"
  fi
}

# Whether PORT answers with a 200 greeting.
greets() {
  local port=$1 line
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  if IFS= read -r -t 1 line <&3 && [[ $line == 200\ * ]]; then
    printf 'QUIT\r\n' >&3 2>/dev/null || true
    exec 3<&- 3>&-
    return 0
  fi
  exec 3<&- 3>&-
  return 1
}

port_in_use() {
  local port=$1
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# The pid of DIR's innd if it is running.
innd_pid() {
  local dir=$1 pid
  [ -s "$dir/run/innd.pid" ] || return 1
  pid=$(cat "$dir/run/innd.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Whether dpkg says PACKAGE is fully installed (not absent, unpacked or
# half-configured).
installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Writes /etc/news/inn.conf as the package's own default (shipped by
# inn2-inews) with a `domain:` line. inn2's post-install runs innconfval,
# which fails on a machine whose name is not fully qualified (most
# containers) unless inn.conf names a domain; and a file written before
# the install is kept as the conffile, so it must be the full default
# (mta, pathnews, hismethod, ovmethod...), not a few lines. Only the
# system-wide INN ever reads this file, never a throwaway one.
write_system_inn_conf() {
  local tmp deb
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq inn2-inews 2>/dev/null) ||
    { rm -rf "$tmp"; die "apt-get download inn2-inews failed"; }
  deb=$(ls "$tmp"/inn2-inews_*.deb)
  mkdir -p /etc/news
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/news/inn.conf |
    sed -E 's/^#?[[:space:]]*domain:.*$/domain:                      test.invalid/' \
      >"$tmp/inn.conf"
  grep -q '^domain:' "$tmp/inn.conf" || echo 'domain: test.invalid' >>"$tmp/inn.conf"
  install -m 644 "$tmp/inn.conf" /etc/news/inn.conf
  rm -rf "$tmp"
}

# Whether /etc/news/inn.conf has what inn2's post-install insists on.
system_inn_conf_ok() {
  local key
  for key in domain mta pathnews hismethod ovmethod pathhost; do
    grep -Eq "^$key:[[:space:]]*[^[:space:]]" /etc/news/inn.conf 2>/dev/null || return 1
  done
}

# Installs inn2 if missing, and repairs an install a previous run left
# half done (a refused inn.conf leaves inn2 half-configured, and every
# later apt-get then fails on it).
cmd_install() {
  if installed inn2 && installed inn2-inews && [ -x $BIN/innd ]; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "install needs root"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ! system_inn_conf_ok; then
    [ -e /etc/news/inn.conf ] && cp /etc/news/inn.conf "/etc/news/inn.conf.before-tidings.$$"
    write_system_inn_conf
  fi
  # A package left unpacked or half-configured is configured first (with
  # the inn.conf above), so that apt-get does not refuse to run.
  dpkg --configure -a --force-confold || true
  # The post-install does not start the system INN without an init system
  # and a resolvable FQDN; that is fine, the throwaway INNs start their own.
  apt-get install -y -qq -o Dpkg::Options::=--force-confold inn2
  dpkg --configure -a
  installed inn2 && [ -x $BIN/innd ] || die "inn2 did not install"
}

write_inn_conf() {
  local dir=$1 port=$2 pathhost=$3
  cat >"$dir/inn.conf" <<EOF
# A throwaway INN made by throwaway-inn.sh: everything under $dir.
domain:                 $pathhost
pathhost:               $pathhost
server:                 127.0.0.1
bindaddress:            127.0.0.1
port:                   $port
organization:           "throwaway INN for tidings tests"
mta:                    "/bin/true %s"
mailcmd:                /bin/true
runasuser:              news
runasgroup:             news

ovmethod:               tradindexed
hismethod:              hisv6
enableoverview:         true
storeonxref:            true
wireformat:             true

# Accept articles of any age (a tidings node catching up sends old ones).
artcutoff:              0
allownewnews:           true
maxconnections:         0
maxartsize:             1000000
localmaxartsize:        1000000
verifygroups:           false
wanttrash:              false
remembertrash:          true
docancels:              "require-auth"
pgpverify:              false
addinjectiondate:       true
addinjectionpostinghost: true
checkincludedtext:      false
nnrpdauthsender:        false
readerswhenstopped:     false
noreader:               false
nnrpdloadlimit:         0
clienttimeout:          600
initialtimeout:         30
peertimeout:            600
logipaddr:              true
logsitename:            true
doinnwatch:             false
status:                 0
timer:                  0
chanretrytime:          5
chaninacttime:          600
pauseretrytime:         5

pathnews:               $PATHNEWS
pathbin:                $BIN
pathcontrol:            $BIN/control
pathfilter:             $dir/etc/filter
pathetc:                $dir/etc
pathdb:                 $dir/db
pathrun:                $dir/run
pathlog:                $dir/log
pathhttp:               $dir/http
pathtmp:                $dir/tmp
pathspool:              $dir/spool
patharticles:           $dir/spool/articles
pathoverview:           $dir/spool/overview
pathincoming:           $dir/spool/incoming
pathoutgoing:           $dir/spool/outgoing
patharchive:            $dir/spool/archive
EOF
}

# storage.conf (and for CNFS, cycbuff.conf and its buffer file).
write_storage() {
  local dir=$1
  local etc=$dir/etc
  case ${INN_STORAGE:-tradspool} in
  tradspool)
    cat >"$etc/storage.conf" <<'EOF'
method tradspool {
    newsgroups: *
    class: 0
}
EOF
    ;;
  cnfs)
    local mb=${INN_CNFS_MB:-4096} buffer=$dir/spool/cycbuffs/one
    [[ $mb =~ ^[0-9]+$ ]] && [ "$mb" -ge 16 ] || die "INN_CNFS_MB must be a number of megabytes, at least 16"
    mkdir -p "$dir/spool/cycbuffs"
    # Allocated, not sparse: CNFS writes into it in place.
    fallocate -l "${mb}M" "$buffer" 2>/dev/null ||
      dd if=/dev/zero of="$buffer" bs=1M count="$mb" status=none ||
      die "cannot make the CNFS buffer $buffer"
    cat >"$etc/cycbuff.conf" <<EOF
cycbuffupdate:  25
refreshinterval: 30
cycbuff:ONE:$buffer:$((mb * 1024))
metacycbuff:BENCH:ONE
EOF
    cat >"$etc/storage.conf" <<'EOF'
method cnfs {
    newsgroups: *
    class: 0
    options: BENCH
}
EOF
    ;;
  *) die "INN_STORAGE must be tradspool or cnfs, not ${INN_STORAGE}" ;;
  esac
}

write_etc() {
  local dir=$1
  local etc=$dir/etc
  write_storage "$dir"
  # Every host on loopback may feed (transit until MODE READER, which hands
  # the connection to nnrpd).
  cat >"$etc/incoming.conf" <<'EOF'
streaming:        true
max-connections:  0
peer loopback {
    hostname: "127.0.0.1, localhost"
}
EOF
  cat >"$etc/readers.conf" <<'EOF'
auth "loopback" {
    hosts: "127.0.0.1, localhost, stdin"
    default: "<loopback>"
}
access "loopback" {
    users: "<loopback>"
    newsgroups: "*"
    access: RPAN
    addcanlockuser: none
}
EOF
  # The innfeed funnel is always there; `feed` adds sites that use it.
  cat >"$etc/newsfeeds" <<EOF
ME:!*/!local::
innfeed!:!*:Tc,Wnm*:$BIN/innfeed
# feeds added by throwaway-inn.sh feed:
EOF
  cat >"$etc/innfeed.conf" <<'EOF'
# Made by throwaway-inn.sh; peers are added by `feed`. Short retry times
# so a test sees articles promptly, even when its server started late.
backlog-directory:      innfeed
initial-sleep:          1
stats-period:           600
initial-connections:    1
max-connections:        2
initial-reconnect-time: 1
max-reconnect-time:     5
article-timeout:        600
response-timeout:       60
dynamic-method:         0
backlog-ckpt-period:    5
backlog-highwater:      1
backlog-rotate-period:  5
backlog-newfile-period: 5
EOF
  : >"$etc/moderators"
  : >"$etc/distrib.pats"
  : >"$etc/subscriptions"
  : >"$etc/expire.ctl"
  : >"$etc/passwd.nntp"
  cat >"$etc/control.ctl" <<'EOF'
all:*:*:drop
EOF
}

write_db() {
  local dir=$1 g
  local db=$dir/db
  {
    for g in "${GROUPS_N[@]}"; do printf '%s 0000000000 0000000001 n\n' "$g"; done
    # shellcheck disable=SC2086
    for g in "${GROUPS_Y[@]}" ${INN_EXTRA_GROUPS:-}; do
      printf '%s 0000000000 0000000001 y\n' "$g"
    done
  } >"$db/active"
  {
    for g in "${GROUPS_N[@]}" "${GROUPS_Y[@]}" ${INN_EXTRA_GROUPS:-}; do
      printf '%s\t%s\n' "$g" "throwaway INN group"
    done
  } >"$db/newsgroups"
  : >"$db/active.times"
  : >"$db/history"
}

cmd_start() {
  [ $# -ge 2 ] || usage
  local dir=$1 port=$2 pathhost=${3:-inn-$2.test.invalid}
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -gt 1023 ] && [ "$port" -lt 65536 ] ||
    die "PORT must be 1024..65535"
  [ -x $BIN/innd ] || die "INN is not installed; run $0 install"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  if innd_pid "$dir" >/dev/null; then
    die "an innd already runs for $dir (pid $(innd_pid "$dir"))"
  fi
  port_in_use "$port" && die "127.0.0.1:$port is already in use"

  # Only a directory this script made (or an empty one) is reused: DIR=/
  # or a real home would otherwise lose its etc/.
  [ "$dir" != / ] || die "refusing to use / as an INN directory"
  if [ -n "$(ls -A "$dir")" ] && [ ! -e "$dir/.throwaway-inn" ]; then
    die "$dir is not empty and was not made by this script"
  fi
  # A fresh INN every time: state left over from an earlier run goes.
  rm -rf "${dir:?}/etc" "$dir/db" "$dir/spool" "$dir/run" "$dir/log" \
    "$dir/tmp" "$dir/http" "$dir/inn.conf"
  touch "$dir/.throwaway-inn"
  mkdir -p "$dir"/{etc/filter,db,run,log,tmp,http} \
    "$dir"/spool/{articles,overview,incoming/bad,outgoing,archive,innfeed}
  write_inn_conf "$dir" "$port" "$pathhost"
  write_etc "$dir"
  write_db "$dir"
  [ "$(id -u)" -eq 0 ] && chown -R news:news "$dir"
  chmod 755 "$dir"

  as_news "$dir" test -w "$dir/db" ||
    die "user news cannot write in $dir (are its parent directories searchable?)"
  as_news "$dir" $BIN/makedbz -i -o >/dev/null ||
    die "makedbz failed"
  # -N: no Perl or Python filters (pathfilter is empty anyway).
  as_news "$dir" $BIN/innd -N -P "$port" >"$dir/log/innd.start" 2>&1 ||
    die "innd did not start: $(cat "$dir/log/innd.start")"

  local i
  for ((i = 0; i < 100; i++)); do
    # innd may answer a moment before its pid file is written.
    if greets "$port" && innd_pid "$dir" >/dev/null; then
      echo "$dir/run/innd.pid"
      return 0
    fi
    sleep 0.1
  done
  echo "throwaway-inn: innd did not answer 200 on 127.0.0.1:$port; its logs:" >&2
  tail -n 20 "$dir"/log/news.err "$dir"/log/errlog "$dir"/log/innd.start \
    2>/dev/null >&2 || true
  cmd_stop "$dir" >/dev/null 2>&1 || true
  exit 1
}

ctlinnd() {
  local dir=$1
  shift
  as_news "$dir" $BIN/ctlinnd -t 20 "$@"
}

# Makes innd send articles to NAME at HOST:PORT through innfeed (CHECK and
# TAKETHIS, or IHAVE if the server has no STREAMING). NAME is also the
# newsfeeds site name: articles whose Path already holds NAME are not sent.
cmd_feed() {
  [ $# -ge 3 ] || usage
  local dir=$1 name=$2 target=$3 wildmat=${4:-*,!junk,!control,!control.*}
  dir=$(cd "$dir" && pwd -P)
  innd_pid "$dir" >/dev/null || die "no innd runs for $dir"
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad feed NAME $name"
  [[ $name != ME && $name != innfeed* ]] || die "feed NAME $name is reserved"
  local host=${target%:*} port=${target##*:}
  [[ $port =~ ^[0-9]+$ ]] && [ "$host" != "$target" ] || die "expected HOST:PORT, got $target"
  case $host in 127.* | localhost) ;; *) die "feeds stay on loopback, not $host" ;; esac
  [ "$host" = localhost ] && host=127.0.0.1

  remove_feed "$dir" "$name"
  cat >>"$dir/etc/innfeed.conf" <<EOF
peer $name {
    ip-name: $host
    port-number: $port
}
EOF
  echo "$name:$wildmat:Tm:innfeed!" >>"$dir/etc/newsfeeds"
  reload_feeds "$dir"
  wait_connected "$dir" "$port"
}

# Waits (up to 10 s) until innfeed holds a connection to 127.0.0.1:PORT,
# so an article INN takes from now on is offered at once. A server that is
# not listening yet is no error: innfeed retries every 1 to 5 s, but an
# article that arrives before it connects waits in innfeed's backlog for
# the next article or for `flush`.
wait_connected() {
  local dir=$1 port=$2 i pid
  port_in_use "$port" || {
    echo "throwaway-inn: nothing listens on 127.0.0.1:$port yet; run" \
      "'$0 flush $dir' once it does" >&2
    return 0
  }
  command -v ss >/dev/null || { sleep 2 && return 0; }
  for ((i = 0; i < 100; i++)); do
    pid=$(cat "$dir/run/innfeed.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && ss -Htnp state established "( dport = :$port )" 2>/dev/null |
      grep -q "pid=$pid,"; then
      return 0
    fi
    sleep 0.1
  done
  echo "throwaway-inn: innfeed has not connected to 127.0.0.1:$port after 10 s" >&2
}

# Restarts innfeed, which offers everything in its backlog as it starts:
# for articles that arrived while the fed server was down.
cmd_flush() {
  [ $# -ge 1 ] || usage
  local dir
  dir=$(cd "$1" && pwd -P)
  innd_pid "$dir" >/dev/null || die "no innd runs for $dir"
  ctlinnd "$dir" flush 'innfeed!' >/dev/null
}

cmd_unfeed() {
  [ $# -ge 2 ] || usage
  local dir=$1 name=$2
  dir=$(cd "$dir" && pwd -P)
  innd_pid "$dir" >/dev/null || die "no innd runs for $dir"
  remove_feed "$dir" "$name"
  reload_feeds "$dir"
}

remove_feed() {
  local dir=$1 name=$2
  local etc=$dir/etc
  awk -v n="$name" '
    $1 == "peer" && $2 == n { skip = 1; next }
    skip && /^}/ { skip = 0; next }
    !skip' "$etc/innfeed.conf" >"$etc/innfeed.conf.new"
  awk -F: -v n="$name" '$1 != n' "$etc/newsfeeds" >"$etc/newsfeeds.new"
  mv "$etc/innfeed.conf.new" "$etc/innfeed.conf"
  mv "$etc/newsfeeds.new" "$etc/newsfeeds"
  [ "$(id -u)" -eq 0 ] && chown news:news "$etc/innfeed.conf" "$etc/newsfeeds"
  return 0
}

# innd rereads newsfeeds and, in doing so, restarts innfeed (its child,
# fed through the funnel), which reads the new innfeed.conf as it starts.
# Articles already queued for a peer survive in innfeed's backlog
# (spool/innfeed). ctlinnd answers once innd has done both.
reload_feeds() {
  ctlinnd "$1" reload newsfeeds "throwaway-inn feed" >/dev/null
}

# The pids of every process that runs with DIR's INNCONF: innd, innfeed,
# and the nnrpd of each reader connection.
dir_pids() {
  local dir=$1 p
  for p in /proc/[0-9]*; do
    if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "INNCONF=$dir/inn.conf"; then
      echo "${p#/proc/}"
    fi
  done
}

cmd_stop() {
  [ $# -ge 1 ] || usage
  local dir=$1 pid i
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd -P)
  if pid=$(innd_pid "$dir"); then
    ctlinnd "$dir" shutdown "throwaway-inn stop" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # innfeed and nnrpd children outlive innd for a moment (or until their
  # client goes): end them too, by pid.
  for ((i = 0; i < 30; i++)); do
    local left
    left=$(dir_pids "$dir")
    [ -z "$left" ] && break
    # shellcheck disable=SC2086
    kill $left 2>/dev/null || true
    sleep 0.1
  done
  left=$(dir_pids "$dir")
  # shellcheck disable=SC2086
  [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
  rm -f "$dir/run/innd.pid"
  echo "stopped"
}

case ${1:-} in
install) shift && cmd_install "$@" ;;
start) shift && cmd_start "$@" ;;
feed) shift && cmd_feed "$@" ;;
flush) shift && cmd_flush "$@" ;;
unfeed) shift && cmd_unfeed "$@" ;;
stop) shift && cmd_stop "$@" ;;
*) usage ;;
esac
