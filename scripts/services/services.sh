#!/usr/bin/env bash
# Local backing services for Arcadia, without Docker: PostgreSQL, Redis (the
# persistent one of queues and pub/sub, and an evicting one for caches),
# Cassandra 5.0 and an S3-compatible server (s3rver).
#
#   bash scripts/services/services.sh [start|stop|status]      (default: start)
#
# start   installs what is missing (Debian packages, Cassandra jars from Maven),
#         starts every service that does not answer yet, waits until each one
#         answers and prints one line per service with where it listens.
#         A service that already answers is left alone, so running it twice is
#         a quick no-op. Concurrent runs are serialised with a lock.
# stop    stops what start started (Cassandra, s3rver, both Redis), and the local
#         PostgreSQL cluster (pg_ctlcluster stop).
# status  one line per service: up or down, and where.
#
# Configuration (environment, same names as the application services):
#   DATABASE_URL              postgres://arcadia:arcadia@127.0.0.1:5432/arcadia
#                             (the role gets LOGIN SUPERUSER and that password;
#                             the database is created when missing)
#   REDIS_URL                 redis://127.0.0.1:6379
#   APQ_REDIS_URL             redis://127.0.0.1:6380  (redis-cache: the router's
#                             persisted queries; no persistence, evicting)
#   REDIS_CACHE_MAXMEMORY     64mb  (redis-cache's memory cap)
#   CASSANDRA_CONTACT_POINTS  127.0.0.1:9042 (the first entry is the local node)
#   S3_ENDPOINT               http://127.0.0.1:9000   (S3_BUCKET: buckets to create)
#   SERVICES                  subset to manage, e.g. "postgres redis"
#                             (default: postgres redis redis-cache cassandra s3)
#   ARCADIA_HOME              state dir: logs, pid files, data (default <repo>/.arcadia)
#   ARCADIA_CACHE             download cache (default ~/.cache/arcadia)
#   CASSANDRA_VERSION         5.0.9      CASSANDRA_HEAP   1g
#   CASSANDRA_STORAGE_PORT    7000       CASSANDRA_JMX_PORT  (unset: no JMX)
#   CASSANDRA_START_TIMEOUT   180 (s)    SERVICES_START_TIMEOUT  60 (s, the others)
#   CASSANDRA_CDS             1: keep a class-data-sharing archive of Cassandra's
#                             classes in the cache (written when the node stops;
#                             makes the next start ~40% faster). 0 disables.
#   CASSANDRA_JAVA            java binary for Cassandra (default: OpenJDK 17)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_DIR="${ARCADIA_HOME:-$REPO_ROOT/.arcadia}"
CACHE_DIR="${ARCADIA_CACHE:-${HOME:-/root}/.cache/arcadia}"
[[ $STATE_DIR == /* ]] || STATE_DIR="$PWD/$STATE_DIR"
[[ $CACHE_DIR == /* ]] || CACHE_DIR="$PWD/$CACHE_DIR"

CASSANDRA_VERSION="${CASSANDRA_VERSION:-5.0.9}"
CASSANDRA_HEAP="${CASSANDRA_HEAP:-1g}"
CASSANDRA_STORAGE_PORT="${CASSANDRA_STORAGE_PORT:-7000}"
CASSANDRA_START_TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
CASSANDRA_CDS="${CASSANDRA_CDS:-1}"
START_TIMEOUT="${SERVICES_START_TIMEOUT:-60}"

DEFAULT_DATABASE_URL="postgres://arcadia:arcadia@127.0.0.1:5432/arcadia"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379"
DEFAULT_APQ_REDIS_URL="redis://127.0.0.1:6380"
DEFAULT_CASSANDRA_CONTACT_POINTS="127.0.0.1:9042"
DEFAULT_S3_ENDPOINT="http://127.0.0.1:9000"

export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- helpers ---

LOG_TAG=services
# shellcheck source=../lib/shell.sh
source "$SCRIPT_DIR/../lib/shell.sh"

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Prints the last lines of a log file, framed, to stderr.
show_log() {
  local file=$1 lines=${2:-60}
  if [[ -s $file ]]; then
    printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" | cut -c1-400 >&2
    printf -- '----- end of %s -----\n' "$file" >&2
  else
    printf '(log %s is empty or missing)\n' "$file" >&2
  fi
}

urldecode() { printf '%b' "${1//%/\\x}"; }

# parse_url URL DEFAULT_PORT: sets URL_SCHEME URL_USER URL_PASS URL_HOST URL_PORT URL_PATH.
parse_url() {
  local url=$1 default_port=$2 rest auth=""
  URL_SCHEME=""
  if [[ $url == *://* ]]; then
    URL_SCHEME=${url%%://*}
    rest=${url#*://}
  else
    rest=$url
  fi
  URL_PATH=""
  if [[ $rest == */* ]]; then
    URL_PATH=${rest#*/}
    URL_PATH=${URL_PATH%%\?*}
    rest=${rest%%/*}
  fi
  rest=${rest%%\?*}
  if [[ $rest == *@* ]]; then
    auth=${rest%@*}
    rest=${rest##*@}
  fi
  URL_USER=$(urldecode "${auth%%:*}")
  URL_PASS=""
  if [[ $auth == *:* ]]; then URL_PASS=$(urldecode "${auth#*:}"); fi
  if [[ $rest == \[* ]]; then # [ipv6]:port
    URL_HOST=${rest%%]*}
    URL_HOST=${URL_HOST#[}
    rest=${rest#*]}
    URL_PORT=${rest#:}
  elif [[ $rest == *:* ]]; then
    URL_HOST=${rest%%:*}
    URL_PORT=${rest##*:}
  else
    URL_HOST=$rest
    URL_PORT=""
  fi
  URL_HOST=${URL_HOST:-127.0.0.1}
  URL_PORT=${URL_PORT:-$default_port}
}

is_local_host() {
  case $1 in
    localhost | 127.* | ::1 | 0.0.0.0 | "$(hostname 2>/dev/null || true)") return 0 ;;
  esac
  return 1
}

# Address to bind a local server to.
bind_address() {
  case $1 in
    localhost | "$(hostname 2>/dev/null || true)") printf '127.0.0.1' ;;
    *) printf '%s' "$1" ;;
  esac
}

# shellcheck disable=SC2016 # $1/$2 expand in the inner shell
tcp_open() { timeout 2 bash -c ': >"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# pid_matches PID PATTERN: the process is alive and its command line contains PATTERN.
pid_matches() {
  local pid=$1 pattern=$2 cmdline
  pid_alive "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$pattern"* ]]
}

# Keeps the previous run's log as FILE.1, so a failure shows this run's lines.
rotate_log() {
  if [[ -f $1 ]]; then mv -f "$1" "$1.1"; fi
}

read_pid() {
  if [[ -f $1 ]]; then tr -dc '0-9' <"$1"; fi
}

# stop_pid NAME PIDFILE PATTERN TIMEOUT: SIGTERM, wait, then SIGKILL.
# Sets STOP_RESULT to notrunning, stopped or killed.
STOP_RESULT=""
stop_pid() {
  local name=$1 pidfile=$2 pattern=$3 timeout=$4 pid waited=0
  pid=$(read_pid "$pidfile")
  if ! pid_matches "$pid" "$pattern"; then
    rm -f "$pidfile"
    log "$name: not running (not started by this script)"
    STOP_RESULT=notrunning
    return 0
  fi
  log "$name: stopping (pid $pid)"
  STOP_RESULT=stopped
  kill -TERM "$pid" 2>/dev/null || true
  while pid_alive "$pid" && ((waited < timeout * 5)); do
    sleep 0.2
    waited=$((waited + 1))
  done
  if pid_alive "$pid"; then
    log "$name: still running after ${timeout}s, killing"
    kill -KILL "$pid" 2>/dev/null || true
    STOP_RESULT=killed
    sleep 0.5
  fi
  rm -f "$pidfile"
}

selected() {
  local want=$1 s
  for s in ${SERVICES:-postgres redis redis-cache cassandra s3}; do
    case $s in
      postgres | postgresql | pg) s=postgres ;;
      s3 | s3rver | minio) s=s3 ;;
      redis | redis-cache | cassandra) ;;
      *) die "unknown service '$s' in SERVICES (known: postgres redis redis-cache cassandra s3)" ;;
    esac
    [[ $s == "$want" ]] && return 0
  done
  return 1
}

# Where every service is expected, from the application's environment.
load_config() {
  parse_url "${DATABASE_URL:-$DEFAULT_DATABASE_URL}" 5432
  PG_HOST=$URL_HOST PG_PORT=$URL_PORT
  PG_USER=${URL_USER:-arcadia} PG_PASS=${URL_PASS:-arcadia}
  PG_DB=${URL_PATH:-$PG_USER}

  parse_url "${REDIS_URL:-$DEFAULT_REDIS_URL}" 6379
  REDIS_HOST=$URL_HOST REDIS_PORT=$URL_PORT REDIS_PASS=$URL_PASS

  parse_url "${APQ_REDIS_URL:-$DEFAULT_APQ_REDIS_URL}" 6380
  CACHE_HOST=$URL_HOST CACHE_PORT=$URL_PORT CACHE_PASS=$URL_PASS

  local contact=${CASSANDRA_CONTACT_POINTS:-$DEFAULT_CASSANDRA_CONTACT_POINTS}
  contact=${contact%%,*}
  contact=${contact// /}
  parse_url "$contact" 9042
  CQL_HOST=$URL_HOST CQL_PORT=$URL_PORT

  parse_url "${S3_ENDPOINT:-$DEFAULT_S3_ENDPOINT}" ""
  S3_SCHEME=${URL_SCHEME:-http} S3_HOST=$URL_HOST S3_PORT=$URL_PORT
  if [[ -z $S3_PORT ]]; then
    if [[ $S3_SCHEME == https ]]; then S3_PORT=443; else S3_PORT=80; fi
  fi
  S3_URL="$S3_SCHEME://$S3_HOST:$S3_PORT"
}

# ------------------------------------------------------------- PostgreSQL ---

pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

# Can the application's role log in over TCP with its password?
pg_login_ok() {
  command -v psql >/dev/null 2>&1 || return 0
  PGPASSWORD=$PG_PASS PGCONNECT_TIMEOUT=3 psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" \
    -U "$PG_USER" -d "$PG_DB" -tAc 'SELECT 1' >/dev/null 2>&1
}

pg_version() {
  local v
  v=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
    awk -F/ '{ print $5 }' | sort -V | tail -n 1)
  printf '%s' "${PG_VERSION:-$v}"
}

pg_needs_install() { [[ -z $(pg_version) ]] || ! command -v pg_ctlcluster >/dev/null 2>&1; }

pg_psql_superuser() {
  (cd / && as_root runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@")
}

pg_ensure_role() {
  log "postgres: ensuring role '$PG_USER' (LOGIN SUPERUSER) and database '$PG_DB'"
  pg_psql_superuser -d postgres -v role="$PG_USER" -v pass="$PG_PASS" -v db="$PG_DB" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN SUPERUSER PASSWORD :'pass';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
}

# Password logins from 127.0.0.1 are allowed by Debian's default pg_hba.conf;
# add the rule if someone removed it.
pg_ensure_hba() {
  local ver=$1 hba
  hba=$(pg_psql_superuser -d postgres -tAc 'SHOW hba_file')
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5|password)' "$hba"; then
    log "postgres: allowing password logins from 127.0.0.1 in $hba"
    as_root sed -i '1i host all all 127.0.0.1/32 scram-sha-256' "$hba"
    as_root pg_ctlcluster "$ver" main reload
  fi
}

start_postgres() {
  local t0 ver status
  t0=$(now)
  if pg_answers && pg_login_ok; then
    ready postgres "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB" "$(pg_server_version), already running"
    return 0
  fi
  is_local_host "$PG_HOST" ||
    die "postgres: DATABASE_URL points at $PG_HOST:$PG_PORT, which does not answer or refuses '$PG_USER'; not a local server, so not starting one"
  ver=$(pg_version)
  [[ -n $ver ]] || die "postgres: no PostgreSQL server installed under /usr/lib/postgresql"

  if ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
    log "postgres: creating cluster $ver/main on port $PG_PORT"
    as_root pg_createcluster "$ver" main --port "$PG_PORT" >"$STATE_DIR/logs/postgres-createcluster.log" 2>&1 ||
      {
        show_log "$STATE_DIR/logs/postgres-createcluster.log"
        die "postgres: pg_createcluster failed"
      }
  fi
  status=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" { print $4 }')
  if [[ $(pg_conftool -s "$ver" main show port 2>/dev/null || echo 5432) != "$PG_PORT" ]]; then
    log "postgres: moving cluster $ver/main to port $PG_PORT"
    as_root pg_conftool "$ver" main set port "$PG_PORT"
    if [[ $status == online ]]; then
      as_root pg_ctlcluster "$ver" main restart
      status=online
    fi
  fi
  if [[ $status != online ]]; then
    log "postgres: starting cluster $ver/main"
    as_root pg_ctlcluster "$ver" main start ||
      {
        show_log "/var/log/postgresql/postgresql-$ver-main.log"
        die "postgres: pg_ctlcluster $ver main start failed"
      }
  fi
  wait_for postgres "$START_TIMEOUT" "/var/log/postgresql/postgresql-$ver-main.log" "" pg_answers
  if ! pg_login_ok; then
    pg_ensure_role
    pg_ensure_hba "$ver"
    pg_login_ok || die "postgres: '$PG_USER' still cannot log in to $PG_HOST:$PG_PORT/$PG_DB with its password"
  fi
  ready postgres "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB" "$(pg_server_version), up in $(elapsed "$t0") s"
}

pg_server_version() {
  local v
  v=$(PGPASSWORD=$PG_PASS psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
    -tAc 'SHOW server_version' 2>/dev/null) || true
  printf 'PostgreSQL %s' "${v%% *}"
}

stop_postgres() {
  local ver
  if ! is_local_host "$PG_HOST" || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "postgres: not a local cluster, leaving it alone"
    return 0
  fi
  ver=$(pg_version)
  [[ -n $ver ]] || return 0
  if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" && $4 == "online" { found = 1 } END { exit !found }'; then
    log "postgres: stopping cluster $ver/main"
    as_root pg_ctlcluster "$ver" main stop
  else
    log "postgres: cluster $ver/main not running"
  fi
}

# ------------------------------------------------------------------ Redis ---

# redis_ping [HOST PORT PASS]: the server answers PING (default: REDIS_URL's).
redis_ping() {
  local host=${1:-$REDIS_HOST} port=${2:-$REDIS_PORT} pass=${3-$REDIS_PASS} reply
  if command -v redis-cli >/dev/null 2>&1; then
    reply=$(REDISCLI_AUTH=$pass timeout 3 redis-cli -h "$host" -p "$port" ping 2>/dev/null) || return 1
    [[ $reply == PONG ]]
  else
    # Plain RESP over bash's /dev/tcp, for a Redis that is not ours (no redis-cli here).
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 3 bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      if [[ -n $3 ]]; then printf "AUTH %s\r\n" "$3" >&3; read -r _ <&3; fi
      printf "PING\r\n" >&3
      read -r reply <&3
      [[ $reply == +PONG* ]]' _ "$host" "$port" "$pass" 2>/dev/null
  fi
}

# redis_server_version [HOST PORT PASS]
redis_server_version() {
  local host=${1:-$REDIS_HOST} port=${2:-$REDIS_PORT} pass=${3-$REDIS_PASS} v
  v=$(REDISCLI_AUTH=$pass redis-cli -h "$host" -p "$port" info server 2>/dev/null |
    awk -F: '/^redis_version:/ { print $2 }' | tr -d '\r') || true
  printf 'Redis %s' "${v:-?}"
}

# Persistence as BullMQ needs it not to lose jobs: every write goes to the
# append-only file, fsynced once a second (a crash loses at most ~1 s of
# writes; a restart keeps every queued job), no RDB snapshots (the AOF has
# them as its preamble), and never evict a key (an evicted job key is a job
# silently gone). Keep these flags in sync with startPrivateRedis() in
# packages/testing/src/redis-server.ts, which tests restart the same way.
REDIS_PERSISTENCE_ARGS=(--save "" --appendonly yes --appendfsync everysec --maxmemory-policy noeviction)

# Warns when a Redis that already runs (started before these flags, or not
# by this script) is not configured so; it is left as it is.
redis_check_persistence() {
  local aof policy
  command -v redis-cli >/dev/null 2>&1 || return 0
  aof=$(REDISCLI_AUTH=$REDIS_PASS redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config get appendonly 2>/dev/null | sed -n 2p) || return 0
  policy=$(REDISCLI_AUTH=$REDIS_PASS redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config get maxmemory-policy 2>/dev/null | sed -n 2p) || return 0
  if [[ -n $aof && ($aof != yes || $policy != noeviction) ]]; then
    log "redis: WARNING: the running server has appendonly=$aof maxmemory-policy=$policy; queued jobs need appendonly=yes and noeviction (restart it: npm run services:stop && npm run services)"
  fi
}

# start_redis_server NAME HOST PORT PASS URL_VAR CHECK DETAIL ARGS...: a
# local redis-server for NAME, its files in $STATE_DIR/NAME, started with
# ARGS (its settings) unless one already answers on HOST:PORT, which is
# then only checked by CHECK (a function that warns) and left as it is.
# URL_VAR names the setting that points there, for the error message;
# DETAIL, if any, is added to the log and ready lines.
start_redis_server() {
  local name=$1 host=$2 port=$3 pass=$4 url_var=$5 check=$6 detail=$7 t0 dir args
  shift 7
  dir="$STATE_DIR/$name"
  t0=$(now)
  if redis_ping "$host" "$port" "$pass"; then
    "$check"
    ready "$name" "redis://$host:$port" "$(redis_server_version "$host" "$port" "$pass"), already running"
    return 0
  fi
  is_local_host "$host" ||
    die "$name: $url_var points at $host:$port, which does not answer; not a local server, so not starting one"
  command -v redis-server >/dev/null 2>&1 || die "$name: redis-server is not installed"
  mkdir -p "$dir"
  args=(--daemonize yes --bind "$(bind_address "$host")" --port "$port"
    "$@" --dir "$dir"
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log")
  if [[ -n $pass ]]; then args+=(--requirepass "$pass"); fi
  log "$name: starting on $host:$port${detail:+ ($detail)}"
  redis-server "${args[@]}" || {
    show_log "$dir/redis.log"
    die "$name: redis-server failed to start"
  }
  wait_for "$name" "$START_TIMEOUT" "$dir/redis.log" "" redis_ping "$host" "$port" "$pass"
  ready "$name" "redis://$host:$port" "$(redis_server_version "$host" "$port" "$pass"), ${detail:+$detail, }up in $(elapsed "$t0") s"
}

start_redis() {
  start_redis_server redis "$REDIS_HOST" "$REDIS_PORT" "$REDIS_PASS" REDIS_URL \
    redis_check_persistence "" "${REDIS_PERSISTENCE_ARGS[@]}"
}

stop_redis() {
  stop_pid redis "$STATE_DIR/redis/redis.pid" redis-server 20
}

# ------------------------------------------------------------ Redis cache ---

# The cache Redis (APQ_REDIS_URL) holds what may be lost and must not grow
# without bound, apart from the queues' Redis, whose memory it would
# otherwise share: no persistence (a restart empties it; clients register
# their persisted queries again), a memory cap, and allkeys-lru (when full
# it evicts its least recently used keys instead of refusing writes). A
# logical database of the other Redis would share that one's memory. Keep
# these flags in sync with the redis-cache service in docker-compose.yml.
REDIS_CACHE_MAXMEMORY="${REDIS_CACHE_MAXMEMORY:-64mb}"
REDIS_CACHE_ARGS=(--save "" --appendonly no --maxmemory "$REDIS_CACHE_MAXMEMORY" --maxmemory-policy allkeys-lru)

cache_ping() { redis_ping "$CACHE_HOST" "$CACHE_PORT" "$CACHE_PASS"; }

# Warns when a cache Redis that already runs can fill up (no maxmemory, or
# a policy that refuses writes); it is left as it is.
redis_cache_check_config() {
  local maxmemory policy
  command -v redis-cli >/dev/null 2>&1 || return 0
  maxmemory=$(REDISCLI_AUTH=$CACHE_PASS redis-cli -h "$CACHE_HOST" -p "$CACHE_PORT" config get maxmemory 2>/dev/null | sed -n 2p) || return 0
  policy=$(REDISCLI_AUTH=$CACHE_PASS redis-cli -h "$CACHE_HOST" -p "$CACHE_PORT" config get maxmemory-policy 2>/dev/null | sed -n 2p) || return 0
  if [[ -n $maxmemory && ($maxmemory == 0 || $policy != allkeys-lru) ]]; then
    log "redis-cache: WARNING: the running server has maxmemory=$maxmemory maxmemory-policy=$policy; a cache needs a maxmemory and allkeys-lru (restart it: npm run services:stop && npm run services)"
  fi
}

start_redis_cache() {
  start_redis_server redis-cache "$CACHE_HOST" "$CACHE_PORT" "$CACHE_PASS" APQ_REDIS_URL \
    redis_cache_check_config "maxmemory $REDIS_CACHE_MAXMEMORY, allkeys-lru" "${REDIS_CACHE_ARGS[@]}"
}

stop_redis_cache() {
  stop_pid redis-cache "$STATE_DIR/redis-cache/redis.pid" redis-server 20
}

# -------------------------------------------------------------- Cassandra ---

CASSANDRA_HOME_DIR="$CACHE_DIR/cassandra-$CASSANDRA_VERSION"
CASSANDRA_LIB="$CASSANDRA_HOME_DIR/lib"
CASSANDRA_STATE="$STATE_DIR/cassandra"
CASSANDRA_PIDFILE="$CASSANDRA_STATE/cassandra.pid"
CASSANDRA_LOG="$CASSANDRA_STATE/logs/system.log"
CASSANDRA_STDOUT="$CASSANDRA_STATE/logs/stdout.log"
CASSANDRA_MAIN=org.apache.cassandra.service.CassandraDaemon

cassandra_jars_cached() { [[ -f $CASSANDRA_LIB/.complete ]]; }

# Resolves cassandra-all and its runtime dependencies from Maven Central into
# the cache (once per version).
cassandra_fetch_jars() {
  local tmp="$CASSANDRA_HOME_DIR/lib.tmp.$$" mvnlog="$STATE_DIR/logs/cassandra-maven.log"
  cassandra_jars_cached && return 0
  command -v mvn >/dev/null 2>&1 || die "cassandra: Maven (mvn) is not installed"
  log "cassandra: resolving org.apache.cassandra:cassandra-all:$CASSANDRA_VERSION with Maven (once; cached in $CASSANDRA_LIB)"
  mkdir -p "$CASSANDRA_HOME_DIR"
  rm -rf "$tmp"
  if ! mvn -B -q -U -Dstyle.color=never -Daether.connector.basic.threads=16 -f "$SCRIPT_DIR/cassandra/pom.xml" \
    -Dcassandra.version="$CASSANDRA_VERSION" -DoutputDirectory="$tmp" \
    dependency:copy-dependencies >"$mvnlog" 2>&1; then
    rm -rf "$tmp"
    show_log "$mvnlog"
    die "cassandra: Maven could not resolve cassandra-all:$CASSANDRA_VERSION"
  fi
  if [[ ! -f $tmp/cassandra-all-$CASSANDRA_VERSION.jar ]] || ! compgen -G "$tmp/jamm-*.jar" >/dev/null; then
    rm -rf "$tmp"
    die "cassandra: Maven finished but cassandra-all-$CASSANDRA_VERSION.jar or the jamm agent is missing"
  fi
  rm -rf "$CASSANDRA_LIB"
  mv "$tmp" "$CASSANDRA_LIB"
  touch "$CASSANDRA_LIB/.complete"
}

java_major() {
  "$1" -XshowSettings:properties -version 2>&1 |
    awk -F= '/java.specification.version/ { gsub(/ /, "", $2); print $2 }'
}

# Cassandra 5.0 runs on Java 11 or 17; prefer 17.
find_java() {
  local candidate
  for candidate in ${CASSANDRA_JAVA:-} /usr/lib/jvm/java-17-openjdk-*/bin/java \
    "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java 2>/dev/null || true)" \
    /usr/lib/jvm/java-11-openjdk-*/bin/java; do
    [[ -n $candidate && -x $candidate ]] || continue
    if [[ -n ${CASSANDRA_JAVA:-} ]]; then
      printf '%s' "$candidate"
      return 0
    fi
    case $(java_major "$candidate") in
      11 | 17)
        printf '%s' "$candidate"
        return 0
        ;;
    esac
  done
  return 1
}

cql_ping() {
  # Prints the release version when a CQL query works.
  if command -v node >/dev/null 2>&1; then
    node "$SCRIPT_DIR/cql-ping.mjs" "$CQL_HOST" "$CQL_PORT" 3000 2>/dev/null
  else
    tcp_open "$CQL_HOST" "$CQL_PORT" && printf 'unknown (node missing: port check only)'
  fi
}

cassandra_answers() { tcp_open "$CQL_HOST" "$CQL_PORT" && cql_ping >/dev/null; }

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

cassandra_render_config() {
  local conf="$CASSANDRA_STATE/conf" addr
  addr=$(bind_address "$CQL_HOST")
  mkdir -p "$conf" "$CASSANDRA_STATE/logs" "$CASSANDRA_STATE"/{data,commitlog,saved_caches,hints,cdc_raw}
  sed -e "s|__STATE_DIR__|$(sed_escape "$CASSANDRA_STATE")|g" \
    -e "s|__LISTEN_ADDRESS__|$(sed_escape "$addr")|g" \
    -e "s|__RPC_ADDRESS__|$(sed_escape "$addr")|g" \
    -e "s|__STORAGE_PORT__|$CASSANDRA_STORAGE_PORT|g" \
    -e "s|__NATIVE_PORT__|$CQL_PORT|g" \
    "$SCRIPT_DIR/cassandra/cassandra.yaml" >"$conf/cassandra.yaml.tmp"
  mv "$conf/cassandra.yaml.tmp" "$conf/cassandra.yaml"
}

# JVM flags: conf/jvm17-server.options of apache/cassandra 5.0 (G1, JPMS exports
# and opens, Netty), the jamm agent, and start-up shortcuts for a one-node dev ring.
cassandra_jvm_opts() {
  local java=$1 jamm cds_dir cds_key archive
  jamm=$(compgen -G "$CASSANDRA_LIB/jamm-*.jar" | head -n 1)
  JVM_OPTS=(
    "-Xms$CASSANDRA_HEAP" "-Xmx$CASSANDRA_HEAP" -Xss256k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
    -XX:G1HeapRegionSize=16m -XX:G1RSetUpdatingPauseTimePercent=5
    -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
    -XX:+ExitOnOutOfMemoryError -XX:+PerfDisableSharedMem
    -Djava.net.preferIPv4Stack=true
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    "-javaagent:$jamm"
    # One node, its own seed: nothing to wait for.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    # Skip the ~1.5 s start-up measurement of the per-row memtable overhead
    # (only used for memtable accounting; 180 is what it measures on JDK 17).
    -Dcassandra.memtable.row_overhead_size=180
    "-Dcassandra.config=file://$CASSANDRA_STATE/conf/cassandra.yaml"
    "-Dcassandra.storagedir=$CASSANDRA_STATE"
    "-Dcassandra.logdir=$CASSANDRA_STATE/logs"
    "-Dlogback.configurationFile=$SCRIPT_DIR/cassandra/logback.xml"
  )
  if [[ -n ${CASSANDRA_JMX_PORT:-} ]]; then
    JVM_OPTS+=("-Dcassandra.jmx.local.port=$CASSANDRA_JMX_PORT")
  fi
  # Class-data sharing: the first run dumps the classes it loaded when it exits
  # (on stop); later runs map that archive instead of loading ~10k classes.
  CDS_ARCHIVE="" CDS_IN_USE=""
  if [[ $CASSANDRA_CDS == 1 ]]; then
    cds_dir="$CASSANDRA_HOME_DIR/cds"
    cds_key=$({
      readlink -f "$java"
      "$java" -version 2>&1
      printf '%s\n' "$CASSANDRA_HEAP"
    } | cksum | cut -d' ' -f1)
    archive="$cds_dir/cassandra-$cds_key.jsa"
    mkdir -p "$cds_dir"
    JVM_OPTS+=(-XX:+UnlockDiagnosticVMOptions -XX:+AllowArchivingWithJavaAgent)
    if [[ -s $archive ]]; then
      JVM_OPTS+=("-XX:SharedArchiveFile=$archive")
      CDS_IN_USE=$archive
    else
      rm -f "$archive.tmp"
      JVM_OPTS+=("-XX:ArchiveClassesAtExit=$archive.tmp")
      CDS_ARCHIVE=$archive
    fi
    printf '%s' "$CDS_ARCHIVE" >"$CASSANDRA_STATE/cds-pending"
  fi
}

CASSANDRA_T0=""
CASSANDRA_LAUNCHED=0

# Launches the node in the background; cassandra_wait waits for it.
launch_cassandra() {
  local java pid
  CASSANDRA_T0=$(now)
  if cassandra_answers; then
    return 0
  fi
  pid=$(read_pid "$CASSANDRA_PIDFILE")
  if pid_matches "$pid" "$CASSANDRA_MAIN"; then
    log "cassandra: already starting (pid $pid)"
    CASSANDRA_LAUNCHED=1
    return 0
  fi
  is_local_host "$CQL_HOST" ||
    die "cassandra: CASSANDRA_CONTACT_POINTS points at $CQL_HOST:$CQL_PORT, which does not answer; not a local node, so not starting one"
  if tcp_open "$CQL_HOST" "$CASSANDRA_STORAGE_PORT"; then
    die "cassandra: storage port $CQL_HOST:$CASSANDRA_STORAGE_PORT is taken by another process (set CASSANDRA_STORAGE_PORT)"
  fi
  java=$(find_java) || die "cassandra: no Java 11 or 17 found (install openjdk-17-jre-headless)"
  cassandra_jars_cached || die "cassandra: jars missing in $CASSANDRA_LIB"
  cassandra_render_config
  cassandra_jvm_opts "$java"
  log "cassandra: starting $CASSANDRA_VERSION on $CQL_HOST:$CQL_PORT (heap $CASSANDRA_HEAP, log $CASSANDRA_LOG)"
  rotate_log "$CASSANDRA_LOG"
  rotate_log "$CASSANDRA_STDOUT"
  printf -- '--- %s starting Cassandra %s\n' "$(date -Is)" "$CASSANDRA_VERSION" >>"$CASSANDRA_STDOUT"
  (cd "$CASSANDRA_STATE" && exec setsid nohup "$java" "${JVM_OPTS[@]}" -cp "$CASSANDRA_LIB/*" \
    "$CASSANDRA_MAIN" >>"$CASSANDRA_STDOUT" 2>&1 </dev/null) &
  pid=$!
  printf '%s\n' "$pid" >"$CASSANDRA_PIDFILE"
  CASSANDRA_LAUNCHED=1
}

wait_cassandra() {
  local pid version deadline
  if ((CASSANDRA_LAUNCHED == 0)); then
    version=$(cql_ping || true)
    ready cassandra "$CQL_HOST:$CQL_PORT" "Cassandra ${version:-?}, already running"
    return 0
  fi
  pid=$(read_pid "$CASSANDRA_PIDFILE")
  deadline=$((SECONDS + CASSANDRA_START_TIMEOUT))
  while :; do
    if ! pid_alive "$pid" && [[ -n ${CDS_IN_USE:-} && -f $CASSANDRA_STATE/hs_err_pid$pid.log ]]; then
      log "cassandra: the JVM crashed while mapping $CDS_IN_USE; retrying without it"
      mv -f "$CASSANDRA_STATE/hs_err_pid$pid.log" "$CASSANDRA_STATE/logs/"
      rm -f "$CDS_IN_USE"
      CDS_IN_USE=""
      launch_cassandra
      pid=$(read_pid "$CASSANDRA_PIDFILE")
      continue
    fi
    if ! pid_alive "$pid"; then
      show_log "$CASSANDRA_STDOUT" 30
      show_log "$CASSANDRA_LOG" 60
      die "cassandra: the node exited during start-up"
    fi
    if tcp_open "$CQL_HOST" "$CQL_PORT" && version=$(cql_ping); then
      break
    fi
    if ((SECONDS >= deadline)); then
      show_log "$CASSANDRA_STDOUT" 30
      show_log "$CASSANDRA_LOG" 80
      die "cassandra: no CQL answer on $CQL_HOST:$CQL_PORT within ${CASSANDRA_START_TIMEOUT}s (still running as pid $pid)"
    fi
    sleep 0.5
  done
  ready cassandra "$CQL_HOST:$CQL_PORT" "Cassandra $version, up in $(elapsed "$CASSANDRA_T0") s"
}

stop_cassandra() {
  local pending="" java
  # Draining flushes memtables; the first stop also writes the CDS archive.
  stop_pid cassandra "$CASSANDRA_PIDFILE" "$CASSANDRA_MAIN" 90
  if [[ -f $CASSANDRA_STATE/cds-pending ]]; then
    pending=$(<"$CASSANDRA_STATE/cds-pending")
    rm -f "$CASSANDRA_STATE/cds-pending"
  fi
  [[ -n $pending ]] || return 0
  # Keep the archive only when the JVM wrote it on a clean exit, and only if
  # a JVM maps it (a truncated archive would crash every later start).
  if [[ $STOP_RESULT == stopped && -s $pending.tmp ]] && java=$(find_java) &&
    "$java" -XX:+UnlockDiagnosticVMOptions -XX:+AllowArchivingWithJavaAgent -Xshare:auto \
      "-XX:SharedArchiveFile=$pending.tmp" -cp "$CASSANDRA_LIB/*" -version >/dev/null 2>&1; then
    mv "$pending.tmp" "$pending"
    log "cassandra: saved class-data-sharing archive $pending (faster next start)"
  else
    rm -f "$pending.tmp"
  fi
}

# -------------------------------------------------------------------- S3 ---

s3_answers() {
  local code
  if command -v curl >/dev/null 2>&1; then
    code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$S3_URL/" 2>/dev/null) || true
    [[ -n $code && $code != 000 ]]
  else
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 3 bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf "GET / HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$1" "$2" >&3
      read -r line <&3
      [[ $line == HTTP/* ]]' _ "$S3_HOST" "$S3_PORT" 2>/dev/null
  fi
}

start_s3() {
  local t0 dir="$STATE_DIR/s3rver" pid
  t0=$(now)
  if s3_answers; then
    ready s3 "$S3_URL" "S3 API, already running"
    return 0
  fi
  is_local_host "$S3_HOST" ||
    die "s3: S3_ENDPOINT points at $S3_URL, which does not answer; not a local server, so not starting one"
  [[ $S3_SCHEME == http ]] || die "s3: the local s3rver speaks plain http; S3_ENDPOINT is $S3_URL"
  command -v node >/dev/null 2>&1 || die "s3: node is not installed"
  [[ -f $REPO_ROOT/node_modules/s3rver/package.json ]] ||
    die "s3: s3rver is not installed in $REPO_ROOT/node_modules; run 'npm install' (or 'npm ci') first"
  pid=$(read_pid "$dir/s3rver.pid")
  if pid_matches "$pid" s3rver.mjs; then
    log "s3: s3rver (pid $pid) is running but does not answer; restarting it"
    stop_pid s3 "$dir/s3rver.pid" s3rver.mjs 10
  fi
  mkdir -p "$dir/data"
  log "s3: starting s3rver on $S3_URL"
  rotate_log "$dir/s3rver.log"
  printf -- '--- %s starting s3rver\n' "$(date -Is)" >>"$dir/s3rver.log"
  (cd "$REPO_ROOT" && exec setsid nohup node "$SCRIPT_DIR/s3rver.mjs" \
    --address "$(bind_address "$S3_HOST")" --port "$S3_PORT" --directory "$dir/data" \
    --buckets "${S3_BUCKET:-}" >>"$dir/s3rver.log" 2>&1 </dev/null) &
  pid=$!
  printf '%s\n' "$pid" >"$dir/s3rver.pid"
  wait_for s3 "$START_TIMEOUT" "$dir/s3rver.log" "$pid" s3_answers
  ready s3 "$S3_URL" "s3rver, path-style, access key S3RVER, up in $(elapsed "$t0") s"
}

stop_s3() {
  stop_pid s3 "$STATE_DIR/s3rver/s3rver.pid" s3rver.mjs 10
}

# ------------------------------------------------------------ orchestration --

# wait_for NAME TIMEOUT LOGFILE PID CHECK...: polls CHECK until it succeeds.
wait_for() {
  local name=$1 timeout=$2 logfile=$3 pid=$4 deadline
  shift 4
  deadline=$((SECONDS + timeout))
  until "$@"; do
    if [[ -n $pid ]] && ! pid_alive "$pid"; then
      show_log "$logfile"
      die "$name: the process exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      show_log "$logfile"
      die "$name: did not answer within ${timeout}s"
    fi
    sleep 0.25
  done
}

READY_LINES=()
ready() {
  READY_LINES+=("$(printf '%-12s %-48s %s' "$1" "$2" "($3)")")
}

apt_install() {
  local aptlog="$STATE_DIR/logs/apt.log"
  command -v apt-get >/dev/null 2>&1 || die "missing packages ($*) and no apt-get to install them"
  log "installing Debian packages: $* (log: $aptlog)"
  {
    as_root apt-get update -qq &&
      as_root apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "$@"
  } >"$aptlog" 2>&1 || {
    show_log "$aptlog"
    die "apt-get install $* failed"
  }
}

cmd_start() {
  local t0 pkgs=() apt_pid="" need_jars=0
  t0=$(now)
  load_config

  # 1. What has to be installed? Only for services that do not answer already.
  if selected postgres && ! pg_answers && is_local_host "$PG_HOST" && pg_needs_install; then
    pkgs+=(postgresql)
  fi
  if ! command -v redis-server >/dev/null 2>&1 &&
    { { selected redis && ! redis_ping && is_local_host "$REDIS_HOST"; } ||
      { selected redis-cache && ! cache_ping && is_local_host "$CACHE_HOST"; }; }; then
    pkgs+=(redis-server)
  fi
  if selected cassandra && is_local_host "$CQL_HOST" && ! cassandra_answers; then
    find_java >/dev/null || pkgs+=(openjdk-17-jre-headless)
    if ! cassandra_jars_cached; then
      need_jars=1
      command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
    fi
  fi

  # 2. Install and download in parallel, and let Cassandra (the slow one) boot
  #    while apt is still busy with PostgreSQL/Redis, unless apt brings Java/Maven.
  if ((${#pkgs[@]} > 0)); then
    if [[ " ${pkgs[*]} " == *" openjdk-17-jre-headless "* || " ${pkgs[*]} " == *" maven "* ]]; then
      apt_install "${pkgs[@]}"
    else
      apt_install "${pkgs[@]}" &
      apt_pid=$!
    fi
  fi
  if ((need_jars)); then cassandra_fetch_jars; fi
  if selected cassandra; then launch_cassandra; fi
  if [[ -n $apt_pid ]]; then
    wait "$apt_pid" || die "installing Debian packages failed"
  fi

  # 3. The others start in a second or two each, while Cassandra boots.
  if selected postgres; then start_postgres; fi
  if selected redis; then start_redis; fi
  if selected redis-cache; then start_redis_cache; fi
  if selected s3; then start_s3; fi
  if selected cassandra; then wait_cassandra; fi

  printf '%s\n' "${READY_LINES[@]}"
  log "ready in $(elapsed "$t0") s (state: $STATE_DIR)"
}

cmd_stop() {
  load_config
  if selected cassandra; then stop_cassandra; fi
  if selected s3; then stop_s3; fi
  if selected redis-cache; then stop_redis_cache; fi
  if selected redis; then stop_redis; fi
  if selected postgres; then stop_postgres; fi
}

# live_pid PIDFILE PATTERN: the pid, if that process is still ours.
live_pid() {
  local pid
  pid=$(read_pid "$1")
  if pid_matches "$pid" "$2"; then printf '%s' "$pid"; fi
}

status_line() {
  local name=$1 where=$2 up=$3 note=$4
  printf '%-12s %-5s %-48s %s\n' "$name" "$up" "$where" "$note"
}

cmd_status() {
  local up version pid
  load_config
  if selected postgres; then
    up=down
    if pg_answers; then up=up; fi
    status_line postgres "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB" "$up" ""
  fi
  if selected redis; then
    up=down
    if redis_ping; then up=up; fi
    pid=$(live_pid "$STATE_DIR/redis/redis.pid" redis-server)
    status_line redis "redis://$REDIS_HOST:$REDIS_PORT" "$up" "${pid:+pid $pid}"
  fi
  if selected redis-cache; then
    up=down
    if cache_ping; then up=up; fi
    pid=$(live_pid "$STATE_DIR/redis-cache/redis.pid" redis-server)
    status_line redis-cache "redis://$CACHE_HOST:$CACHE_PORT" "$up" "${pid:+pid $pid}"
  fi
  if selected cassandra; then
    up=down version=""
    if tcp_open "$CQL_HOST" "$CQL_PORT" && version=$(cql_ping); then up=up; fi
    pid=$(live_pid "$CASSANDRA_PIDFILE" "$CASSANDRA_MAIN")
    status_line cassandra "$CQL_HOST:$CQL_PORT" "$up" "${version:+Cassandra $version}${pid:+ pid $pid}"
  fi
  if selected s3; then
    up=down
    if s3_answers; then up=up; fi
    pid=$(live_pid "$STATE_DIR/s3rver/s3rver.pid" s3rver.mjs)
    status_line s3 "$S3_URL" "$up" "${pid:+pid $pid}"
  fi
}

main() {
  local cmd=${1:-start}
  case $cmd in
    start | stop) ;;
    status)
      cmd_status
      return 0
      ;;
    -h | --help | help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
      return 0
      ;;
    *) die "unknown command '$cmd' (use start, stop or status)" ;;
  esac

  mkdir -p "$STATE_DIR/logs"
  # One start/stop at a time. The lock is taken by flock(1) around a re-run of
  # this script with -o, so the servers started here do not inherit the lock.
  if [[ -z ${ARCADIA_SERVICES_LOCKED:-} ]] && command -v flock >/dev/null 2>&1; then
    ARCADIA_SERVICES_LOCKED=1 ARCADIA_HOME=$STATE_DIR exec flock -o -w 900 \
      "$STATE_DIR/services.lock" bash "${BASH_SOURCE[0]}" "$cmd"
  fi
  "cmd_$cmd"
}

main "$@"
