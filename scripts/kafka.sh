#!/usr/bin/env bash
# A real Apache Kafka cluster (KRaft, no ZooKeeper) on this machine's loopback, from the
# Maven Central jars pinned in scripts/kafka/pom.xml. No Docker, no tarball.
#
#   scripts/kafka.sh start  [--brokers N] [--dir DIR] [--port P] [--owner-pid PID] [--fresh]
#                           [--security sasl_ssl [--user NAME:PASSWORD]...]
#   scripts/kafka.sh stop   [--dir DIR] [--node K] [--kill]
#   scripts/kafka.sh status [--dir DIR]
#   scripts/kafka.sh fetch                      # only download the jars (setup, CI)
#   scripts/kafka.sh random-uuid                # a new cluster id, as kafka-storage random-uuid
#   scripts/kafka.sh tool CLASS [ARGS...]       # run a Kafka tool class from the same jars
#
# start: fetches the jars once into ~/.cache/unibus/kafka-VERSION/libs (offline after that),
#   formats KRaft storage under DIR (default ~/.cache/unibus/kafka-cluster) and starts N
#   nodes (default 1), each a combined broker+controller, so N=3 is a three-voter
#   controller quorum with three brokers: topics default to replication factor min(N,3)
#   and min.insync.replicas 2 when N >= 3. Listeners are on free loopback ports (or P,
#   P+1, ... for the clients' listeners with --port). Waits until every broker is
#   registered, then prints `bootstrap: 127.0.0.1:PORT,...`. Starting again on a DIR whose
#   nodes are stopped (or some SIGKILLed) restarts them with their data and ports; --fresh
#   wipes DIR first. --owner-pid: stop the cluster when that process exits (test fixtures).
# --security sasl_ssl: the clients' listeners are SASL_SSL with SCRAM-SHA-512 and PLAIN
#   (librdkafka before 2.6.1, Debian 12's 2.0.2 among them and so kcat, fails SCRAM
#   against Kafka 4: librdkafka#4895; unibus links 2.12.0), and KRaft's
#   StandardAuthorizer denies what no ACL allows. The script makes a CA and a broker certificate for 127.0.0.1 with openssl (PKCS12
#   keystores, DIR/security), and the users: `admin` (a super user, random password) and
#   each --user, as SCRAM credentials at format time and PLAIN users of the listener.
#   It writes DIR/security/client.properties (librdkafka: kafka://...?config_file=) and
#   DIR/security/admin-java.properties (Kafka's tools: --command-config) for admin, both
#   mode 600; clients trust DIR/security/ca.pem. The controller listener stays PLAINTEXT
#   on 127.0.0.1 (its ANONYMOUS principal, the brokers' own, is a super user there).
#   Passwords are never printed.
# stop: SIGTERM every node (or node K), SIGKILL after a grace period (or at once, --kill).
# status: lists the nodes; exits 3 unless every node runs.
#
# Environment: UNIBUS_KAFKA_JVM_OPTS (default: small heap, serial GC, quick-start JIT),
#   UNIBUS_KAFKA_START_TIMEOUT (seconds, default 120), UNIBUS_CACHE (default ~/.cache/unibus).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/kafka/pom.xml"
ME="scripts/kafka.sh"
VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
CACHE="${UNIBUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/unibus}"
LIBS="$CACHE/kafka-$VERSION/libs"
DEFAULT_JVM_OPTS="-Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"
JVM_OPTS="${UNIBUS_KAFKA_JVM_OPTS:-$DEFAULT_JVM_OPTS}"
START_TIMEOUT="${UNIBUS_KAFKA_START_TIMEOUT:-120}"

die() {
  echo "$ME: $*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2 (scripts/setup.sh installs it)"
}

# Copies kafka_2.13, kafka-tools and their dependencies into $LIBS, once.
fetch() {
  # A cache from before the pom named the logging binding lacks it: fetch again.
  [ -f "$LIBS/.complete" ] && ls "$LIBS"/log4j-slf4j-impl-*.jar >/dev/null 2>&1 && return 0
  need java "the Kafka broker needs Java 17 or later (apt-get install default-jre-headless)"
  need mvn "the Kafka jars come from Maven Central through Maven (apt-get install maven)"
  mkdir -p "$CACHE"
  local tmp="$LIBS.tmp.$$" log="$CACHE/kafka-$VERSION-fetch.log"
  rm -rf "$tmp"
  echo "$ME: fetching Apache Kafka $VERSION jars from Maven Central into $LIBS" >&2
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$log" 2>&1; then
    rm -rf "$tmp"
    tail -5 "$log" >&2 || true
    die "could not fetch the Apache Kafka $VERSION jars (org.apache.kafka:kafka_2.13) with Maven;" \
      "see $log. Check that Maven Central is reachable from here (proxy settings in" \
      "~/.m2/settings.xml) or that ~/.m2/repository already holds them for offline use."
  fi
  ls "$tmp"/kafka_2.13-"$VERSION".jar >/dev/null 2>&1 || die "Maven ran but $tmp has no kafka_2.13-$VERSION.jar; see $log"
  # Without it the broker would log nothing and never be seen as started.
  ls "$tmp"/log4j-slf4j-impl-*.jar >/dev/null 2>&1 ||
    die "Maven ran but $tmp has no log4j-slf4j-impl jar (the broker's logging binding); see $log"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  touch "$LIBS/.complete"
}

# A KRaft cluster id: 16 random bytes in URL-safe base64 without padding (22 characters).
# Like Kafka's Uuid.randomUuid(), never one that starts with '-': StorageTool's argument
# parser reads `-t -Abc...` as an option and format fails (1 id in 64).
random_uuid() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    [ "${id:0:1}" != - ] && break
  done
  printf '%s\n' "$id"
}

run_java() {  # run_java LOG4J2_CONFIG MAIN ARGS... (foreground)
  local log4j="$1"
  shift
  # shellcheck disable=SC2086
  java $JVM_OPTS -Dlog4j2.configurationFile="$HERE/kafka/$log4j" -cp "$LIBS/*" "$@"
}

port_free() {  # nothing listens on 127.0.0.1:$1
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Sets PORTS and CPORTS: N client ports and N controller ports, all free.
pick_ports() {
  local n="$1" base="$2" p i
  PORTS=() CPORTS=()
  if [ -n "$base" ]; then
    for ((i = 0; i < n; i++)); do
      p=$((base + i))
      port_free "$p" || die "port $p on 127.0.0.1 is in use; stop what listens there (ss -ltnp 'sport = :$p') or choose another --port"
      PORTS+=("$p")
    done
  fi
  local used=" ${PORTS[*]} "
  while [ "${#PORTS[@]}" -lt "$n" ] || [ "${#CPORTS[@]}" -lt "$n" ]; do
    p=$((20000 + RANDOM % 30000))
    case "$used" in *" $p "*) continue ;; esac
    port_free "$p" || continue
    used+="$p "
    if [ "${#PORTS[@]}" -lt "$n" ]; then PORTS+=("$p"); else CPORTS+=("$p"); fi
  done
}

set_listener() {
  if [ "$SECURITY" = sasl_ssl ]; then LISTENER=SASL_SSL; else LISTENER=PLAINTEXT; fi
}

load_state() {
  [ -f "$DIR/cluster.env" ] || return 1
  SECURITY=""
  # shellcheck disable=SC1091
  source "$DIR/cluster.env"
  read -r -a PORTS <<<"$PORTS_LIST"
  read -r -a CPORTS <<<"$CPORTS_LIST"
}

bootstrap() {
  local out="" p
  for p in "${PORTS[@]}"; do out+="${out:+,}127.0.0.1:$p"; done
  echo "$out"
}

node_pid() {  # prints the pid of node $1 if it runs
  local f="$DIR/node-$1/pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null || return 1
  # Not some other process that reused the pid.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $DIR/node-$1/server.properties" || return 1
  echo "$pid"
}

# True while the process start_node launched for node $1 lives, including the moment
# before it has become java (between fork and exec its command line is still this
# script's, so node_pid does not know it yet; under load that takes a while).
node_launched() {
  local f="$DIR/node-$1/pid" pid state
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

write_config() {  # write_config K
  local k="$1" voters="" i rf isr
  for ((i = 1; i <= BROKERS; i++)); do voters+="${voters:+,}$i@127.0.0.1:${CPORTS[i - 1]}"; done
  rf=$((BROKERS < 3 ? BROKERS : 3))
  isr=$((BROKERS < 3 ? 1 : 2))
  mkdir -p "$DIR/node-$k"
  cat >"$DIR/node-$k/server.properties" <<EOF
# Written by $ME; node $k of $BROKERS (combined broker + controller).
process.roles=broker,controller
node.id=$k
controller.quorum.voters=$voters
listeners=$LISTENER://127.0.0.1:${PORTS[k - 1]},CONTROLLER://127.0.0.1:${CPORTS[k - 1]}
advertised.listeners=$LISTENER://127.0.0.1:${PORTS[k - 1]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=$LISTENER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$LISTENER:$LISTENER
log.dirs=$DIR/node-$k/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# A small machine: few threads, a small cleaner buffer.
num.network.threads=2
num.io.threads=2
background.threads=2
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
# A dead node is fenced after 3 s (default 9 s), so failover tests are quick.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF
  [ "$SECURITY" = sasl_ssl ] || return 0
  local sec="$DIR/security" store_pw admin_pw
  store_pw="$(cat "$sec/store.password")"
  admin_pw="$(cat "$sec/admin.password")"
  local plain_users="user_admin=\"$admin_pw\"" u
  while read -r u; do plain_users+=" user_${u%%:*}=\"${u#*:}\""; done <"$sec/users"
  cat >>"$DIR/node-$k/server.properties" <<EOF
# --security sasl_ssl: over TLS, SCRAM-SHA-512 (between brokers, Kafka's Java clients,
# librdkafka >= 2.6.1) and PLAIN (librdkafka before 2.6.1, e.g. Debian 12's 2.0.2, whose
# SCRAM Kafka 4 refuses: librdkafka#4895).
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_pw";
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin_pw" $plain_users;
ssl.keystore.type=PKCS12
ssl.keystore.location=$sec/broker.p12
ssl.keystore.password=$store_pw
ssl.key.password=$store_pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$sec/truststore.p12
ssl.truststore.password=$store_pw
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS
EOF
  chmod 600 "$DIR/node-$k/server.properties"
}

# --security sasl_ssl: a CA, a broker certificate for 127.0.0.1/localhost signed by it
# (PKCS12 keystore), a truststore with the CA, random store and admin passwords, and
# the admin's client properties. Once per DIR.
make_security() {
  need openssl "--security sasl_ssl makes its certificates with openssl"
  need keytool "--security sasl_ssl makes the truststore with Java's keytool"
  local sec="$DIR/security" store_pw admin_pw
  local log="$sec/openssl.log"
  mkdir -p "$sec"
  chmod 700 "$sec"
  (
    umask 077
    openssl rand -hex 16 >"$sec/store.password"
    openssl rand -hex 16 >"$sec/admin.password"
    : >"$sec/users"  # NAME:PASSWORD lines, for PLAIN (written into server.properties)
    for u in "${USERS[@]}"; do printf '%s\n' "$u" >>"$sec/users"; done
  )
  store_pw="$(cat "$sec/store.password")"
  admin_pw="$(cat "$sec/admin.password")"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=unibus test CA" \
      -keyout "$sec/ca.key" -out "$sec/ca.pem" &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$sec/broker.key" -out "$sec/broker.csr" &&
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$sec/san.ext" &&
      openssl x509 -req -in "$sec/broker.csr" -CA "$sec/ca.pem" -CAkey "$sec/ca.key" \
        -CAcreateserial -days 3650 -extfile "$sec/san.ext" -out "$sec/broker.pem" &&
      openssl pkcs12 -export -in "$sec/broker.pem" -inkey "$sec/broker.key" -certfile "$sec/ca.pem" \
        -name broker -out "$sec/broker.p12" -passout "file:$sec/store.password" &&
      keytool -importcert -noprompt -alias ca -file "$sec/ca.pem" -keystore "$sec/truststore.p12" \
        -storetype PKCS12 -storepass:file "$sec/store.password"
  } >"$log" 2>&1 || die "making the certificates for --security sasl_ssl failed; see $log"
  chmod 600 "$sec/ca.key" "$sec/broker.key" "$sec/broker.p12" "$sec/truststore.p12"
  (
    umask 077
    cat >"$sec/client.properties" <<EOF
# librdkafka properties for the cluster's super user (kafka://...?config_file=THIS).
# PLAIN, so that kcat (Debian 12's librdkafka 2.0.2, whose SCRAM Kafka 4 refuses:
# librdkafka#4895) can use this file too; unibus's own librdkafka (2.12.0, built by
# scripts/librdkafka.sh) also does sasl.mechanisms=SCRAM-SHA-512.
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=admin
sasl.password=$admin_pw
ssl.ca.location=$sec/ca.pem
EOF
    cat >"$sec/admin-java.properties" <<EOF
# Kafka's tools as the cluster's super user (--command-config THIS).
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_pw";
ssl.truststore.type=PKCS12
ssl.truststore.location=$sec/truststore.p12
ssl.truststore.password=$store_pw
EOF
  )
}

start_node() {  # start_node K
  local k="$1" d="$DIR/node-$1"
  node_pid "$k" >/dev/null && return 0
  # A restart keeps the previous run's log (how it stopped) as kafka.log.1.
  [ -s "$d/kafka.log" ] && mv -f "$d/kafka.log" "$d/kafka.log.1"
  : >"$d/kafka.log"
  # setsid: the broker outlives this script and does not get the terminal's Ctrl-C.
  # shellcheck disable=SC2086
  setsid java $JVM_OPTS -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$d/server.properties" >>"$d/kafka.log" 2>&1 </dev/null 9>&- &
  echo $! >"$d/pid"
}

# Waits until node K logged that it started (a KRaft broker logs it once it is unfenced,
# i.e. registered with the controller quorum). Returns 2 on "Address already in use".
wait_started() {
  local deadline=$(($(date +%s) + START_TIMEOUT)) k pending
  while :; do
    pending=0
    for k in "$@"; do
      local log="$DIR/node-$k/kafka.log"
      if grep -q "Kafka Server started" "$log" 2>/dev/null; then continue; fi
      if ! node_pid "$k" >/dev/null && ! node_launched "$k"; then
        grep -q "Address already in use" "$log" 2>/dev/null && return 2
        tail -20 "$log" >&2 || true
        die "node $k exited during startup; see $log"
      fi
      pending=1
    done
    [ "$pending" = 0 ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      for k in "$@"; do node_pid "$k" >/dev/null && kill -KILL "$(node_pid "$k")" 2>/dev/null; done
      die "the cluster was not ready within ${START_TIMEOUT}s (UNIBUS_KAFKA_START_TIMEOUT) and was" \
        "stopped; see $(for k in "$@"; do printf '%s ' "$DIR/node-$k/kafka.log"; done)"
    fi
    sleep 0.3
  done
}

# The cluster answers a metadata request listing all N brokers (when kcat is installed).
wait_metadata() {
  command -v kcat >/dev/null 2>&1 || return 0
  local kcat=(kcat)
  [ "$SECURITY" = sasl_ssl ] && kcat+=(-F "$DIR/security/client.properties")
  local deadline=$(($(date +%s) + 30)) n
  while :; do
    n="$("${kcat[@]}" -b "$(bootstrap)" -L -m 5 2>/dev/null | grep -c ' broker [0-9]* at ' || true)"
    [ "$n" -ge "$BROKERS" ] && break
    [ "$(date +%s)" -ge "$deadline" ] && die "the brokers started but metadata lists $n of $BROKERS brokers after 30s; see $DIR/node-*/kafka.log"
    sleep 0.3
  done
  # The group coordinator: the first FindCoordinator creates __consumer_offsets, and a
  # fresh cluster takes seconds to elect its leaders; do it now, not in a client's
  # first consumer-group call.
  "${kcat[@]}" -b "$(bootstrap)" -G unibus-kafka-sh-warmup -q unibus-kafka-sh-warmup >/dev/null 2>&1 9>&- &
  local warm=$!
  deadline=$(($(date +%s) + 60))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    n="$("${kcat[@]}" -b "$(bootstrap)" -L -t __consumer_offsets -m 5 2>/dev/null | grep -c 'partition .* leader [0-9]' || true)"
    [ "$n" -ge 10 ] && break
    sleep 0.3
  done
  kill "$warm" 2>/dev/null || true
  wait "$warm" 2>/dev/null || true
}

watch_owner() {  # stops the cluster when process $1 is gone
  # In a session of its own, so that killing the owner's process group (a test
  # runner's timeout) does not take the watcher with it.
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" stop --dir "$3" --kill' \
    watch-owner "$1" "$HERE/kafka.sh" "$DIR" </dev/null >/dev/null 2>&1 9>&- &
}

cmd_start() {
  need java "the Kafka broker needs Java 17 or later"
  fetch
  [ "$FRESH" = 1 ] && [ -d "$DIR" ] && {
    "$HERE/kafka.sh" stop --dir "$DIR" --kill >/dev/null 2>&1 || true
    rm -rf "$DIR"
  }
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock -w 60 9 || die "another $ME is working on $DIR"
  local k tries=0
  if load_state; then
    [ -z "$WANT_BROKERS" ] || [ "$WANT_BROKERS" = "$BROKERS" ] ||
      die "$DIR holds a $BROKERS-node cluster; use another --dir or --fresh for $WANT_BROKERS"
    [ -z "$WANT_SECURITY" ] || [ "$WANT_SECURITY" = "$SECURITY" ] ||
      die "$DIR holds a cluster without --security $WANT_SECURITY; use another --dir or --fresh"
  else
    BROKERS="${WANT_BROKERS:-1}"
    [[ "$BROKERS" =~ ^[1-9]$ ]] || die "--brokers must be 1 to 9, got '$BROKERS'"
    CLUSTER_ID="$(random_uuid)"
    SECURITY="$WANT_SECURITY"
    pick_ports "$BROKERS" "$BASE_PORT"
    local scram=() u
    if [ "$SECURITY" = sasl_ssl ]; then
      make_security
      # The SCRAM users go into the bootstrap metadata (the format JVM's log does not
      # print its arguments).
      scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$DIR/security/admin.password")]")
      for u in "${USERS[@]}"; do
        scram+=(--add-scram "SCRAM-SHA-512=[name=${u%%:*},password=${u#*:}]")
      done
    fi
    set_listener
    for ((k = 1; k <= BROKERS; k++)); do write_config "$k"; done
    # Format every node's storage in parallel (one JVM each).
    local pids=()
    for ((k = 1; k <= BROKERS; k++)); do
      run_java log4j2-tools.properties kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$DIR/node-$k/server.properties" \
        "${scram[@]}" >"$DIR/node-$k/format.log" 2>&1 &
      pids+=($!)
    done
    for ((k = 1; k <= BROKERS; k++)); do
      wait "${pids[k - 1]}" || die "formatting storage of node $k failed; see $DIR/node-$k/format.log"
    done
    printf 'BROKERS=%s\nCLUSTER_ID=%s\nPORTS_LIST="%s"\nCPORTS_LIST="%s"\nVERSION=%s\nSECURITY=%s\n' \
      "$BROKERS" "$CLUSTER_ID" "${PORTS[*]}" "${CPORTS[*]}" "$VERSION" "$SECURITY" >"$DIR/cluster.env"
  fi
  set_listener
  local nodes=()
  for ((k = 1; k <= BROKERS; k++)); do node_pid "$k" >/dev/null || nodes+=("$k"); done
  while :; do
    for k in "${nodes[@]}"; do start_node "$k"; done
    local rc=0
    wait_started "${nodes[@]}" || rc=$?
    [ "$rc" = 0 ] && break
    # A port was taken between picking and binding: pick again when we chose them.
    "$HERE/kafka.sh" stop --dir "$DIR" --kill >/dev/null 2>&1 || true
    tries=$((tries + 1))
    if [ -n "$BASE_PORT" ] || [ "$tries" -ge 3 ]; then
      die "a port of the cluster in $DIR is in use (Address already in use in $DIR/node-*/kafka.log); choose another --port"
    fi
    pick_ports "$BROKERS" ""
    for ((k = 1; k <= BROKERS; k++)); do write_config "$k"; done
    sed -i "s/^PORTS_LIST=.*/PORTS_LIST=\"${PORTS[*]}\"/; s/^CPORTS_LIST=.*/CPORTS_LIST=\"${CPORTS[*]}\"/" "$DIR/cluster.env"
    nodes=()
    for ((k = 1; k <= BROKERS; k++)); do nodes+=("$k"); done
  done
  wait_metadata
  [ -n "$OWNER_PID" ] && watch_owner "$OWNER_PID"
  echo "Apache Kafka $VERSION, $BROKERS node(s) in $DIR"
  echo "bootstrap: $(bootstrap)"
  if [ "$SECURITY" = sasl_ssl ]; then
    echo "security: SASL_SSL (SCRAM-SHA-512, PLAIN), StandardAuthorizer (super user admin)"
    echo "ca: $DIR/security/ca.pem"
    echo "admin client properties: $DIR/security/client.properties"
    echo "admin tool properties: $DIR/security/admin-java.properties"
  fi
}

cmd_stop() {
  load_state || {
    echo "$ME: no cluster in $DIR"
    return 0
  }
  local k pid pids=() nodes=()
  if [ -n "$NODE" ]; then nodes=("$NODE"); else for ((k = 1; k <= BROKERS; k++)); do nodes+=("$k"); done; fi
  for k in "${nodes[@]}"; do
    pid="$(node_pid "$k")" || continue
    if [ "$KILL" = 1 ]; then kill -KILL "$pid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
    pids+=("$pid")
  done
  local deadline=$(($(date +%s) + 20)) killed
  for pid in "${pids[@]}"; do
    killed=0
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$(date +%s)" -ge "$deadline" ] && [ "$killed" = 0 ]; then
        [ "$KILL" = 1 ] || echo "$ME: pid $pid did not stop within 20s of SIGTERM; sent SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        killed=1
      fi
      sleep 0.2
    done
  done
  for k in "${nodes[@]}"; do node_launched "$k" || rm -f "$DIR/node-$k/pid"; done
  echo "stopped ${#pids[@]} node(s) in $DIR"
}

cmd_status() {
  load_state || {
    echo "no cluster in $DIR"
    return 3
  }
  local k pid up=0
  for ((k = 1; k <= BROKERS; k++)); do
    if pid="$(node_pid "$k")"; then
      echo "node $k: running (pid $pid, 127.0.0.1:${PORTS[k - 1]})"
      up=$((up + 1))
    else
      echo "node $k: stopped (127.0.0.1:${PORTS[k - 1]})"
    fi
  done
  echo "bootstrap: $(bootstrap)"
  [ "$up" = "$BROKERS" ] || return 3
}

[ $# -ge 1 ] || die "usage: $ME start|stop|status|fetch|random-uuid|tool [--brokers N] [--dir DIR]"
CMD="$1"
shift
DIR="$CACHE/kafka-cluster"
WANT_BROKERS="" BASE_PORT="" OWNER_PID="" FRESH=0 NODE="" KILL=0 WANT_SECURITY="" SECURITY=""
USERS=()
if [ "$CMD" = random-uuid ]; then
  random_uuid
  exit 0
fi
if [ "$CMD" = tool ]; then
  fetch
  run_java log4j2-tools.properties "$@"
  exit $?
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) WANT_BROKERS="${2:?--brokers needs a number}"; shift 2 ;;
    --dir) DIR="${2:?--dir needs a path}"; shift 2 ;;
    --port) BASE_PORT="${2:?--port needs a number}"; shift 2 ;;
    --owner-pid) OWNER_PID="${2:?--owner-pid needs a pid}"; shift 2 ;;
    --node) NODE="${2:?--node needs a number}"; shift 2 ;;
    --security)
      WANT_SECURITY="${2:?--security needs a value (sasl_ssl)}"
      [ "$WANT_SECURITY" = sasl_ssl ] || die "--security: only sasl_ssl is supported, got '$WANT_SECURITY'"
      shift 2 ;;
    --user)
      [[ "${2:-}" =~ ^[A-Za-z0-9_.-]+:[A-Za-z0-9_.@%+-]+$ ]] ||
        die "--user needs NAME:PASSWORD (NAME of letters, digits, '.', '_', '-'; PASSWORD of those and '@', '%', '+')"
      USERS+=("$2"); shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --kill) KILL=1; shift ;;
    *) die "unknown option '$1'" ;;
  esac
done
# Only start makes directories; stop and status look at what is there.
if [ "$CMD" = start ]; then mkdir -p "$(dirname "$DIR")"; fi
if [ -d "$(dirname "$DIR")" ]; then DIR="$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")"; fi
case "$CMD" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  fetch) fetch && echo "$LIBS" ;;
  *) die "unknown command '$CMD' (start, stop, status, fetch, random-uuid, tool)" ;;
esac
