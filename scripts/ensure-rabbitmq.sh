#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers on 127.0.0.1:5672 with its management HTTP API on
# 127.0.0.1:15672 (the operator provisions the managed broker's per-service users through it, and
# its broker tests do the same here): installs Debian's rabbitmq-server when it is missing,
# enables rabbitmq_management, starts the server when it is not running, and waits for both ports.
#
# It also makes sure of an amqps:// listener on 127.0.0.1:5671 for the TLS tests: a test CA and a
# server certificate for DNS:localhost only (so amqps://127.0.0.1 is a host name mismatch), plus
# a second, unrelated CA, generated once with the openssl CLI into $KOINOS_RABBITMQ_TLS_DIR
# (default /etc/rabbitmq/koinos-tls: ca.pem, server.pem, server.key, other-ca.pem). The listener
# is in rabbitmq.conf for the next start and, on a broker already running without it, started
# in place (rabbitmqctl eval), so nobody's connections on 5672 are dropped.
set -euo pipefail

tls_dir=${KOINOS_RABBITMQ_TLS_DIR:-/etc/rabbitmq/koinos-tls}

amqp_listening() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
management_listening() { (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null; }
amqps_listening() { (exec 3<>/dev/tcp/127.0.0.1/5671) 2>/dev/null; }

ensure_tls_material() {
  [ -s "$tls_dir/server.pem" ] && [ -s "$tls_dir/other-ca.pem" ] && return 0
  echo "rabbitmq: generating the test CA and server certificate in $tls_dir"
  mkdir -p "$tls_dir"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  local ca_ext=(-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign)
  openssl req -x509 "${ec[@]}" -days 3650 -subj /CN=koinos-test-ca "${ca_ext[@]}" \
    -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.pem" 2>/dev/null
  openssl req -x509 "${ec[@]}" -days 3650 -subj /CN=koinos-other-ca "${ca_ext[@]}" \
    -keyout "$tls_dir/other-ca.key" -out "$tls_dir/other-ca.pem" 2>/dev/null
  openssl req -new "${ec[@]}" -subj /CN=localhost -keyout "$tls_dir/server.key" \
    -out "$tls_dir/server.csr" 2>/dev/null
  printf '%s\n' subjectAltName=DNS:localhost extendedKeyUsage=serverAuth \
    basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature > "$tls_dir/server.ext"
  openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca.key" \
    -CAcreateserial -days 3650 -extfile "$tls_dir/server.ext" -out "$tls_dir/server.pem" 2>/dev/null
  # The broker runs as rabbitmq; the tests (any user) read the CAs.
  chmod 755 "$tls_dir"
  chmod 644 "$tls_dir"/*.pem
  chown rabbitmq "$tls_dir/server.key" 2>/dev/null || chmod 644 "$tls_dir/server.key"
}

# For the broker's next start.
configure_tls_listener() {
  local conf=/etc/rabbitmq/rabbitmq.conf
  grep -q '^listeners.ssl.default' "$conf" 2>/dev/null && return 0
  cat >> "$conf" <<CONF
listeners.ssl.default = 5671
ssl_options.cacertfile = $tls_dir/ca.pem
ssl_options.certfile = $tls_dir/server.pem
ssl_options.keyfile = $tls_dir/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
}

# On a running broker that came up without it.
ensure_tls_listening() {
  amqps_listening && return 0
  echo "rabbitmq: starting the amqps listener on 5671"
  rabbitmqctl -q eval "rabbit_networking:start_ssl_listener(5671, [{cacertfile, \"$tls_dir/ca.pem\"}, {certfile, \"$tls_dir/server.pem\"}, {keyfile, \"$tls_dir/server.key\"}, {verify, verify_none}, {fail_if_no_peer_cert, false}], 1)." >/dev/null
  for _ in $(seq 1 30); do
    if amqps_listening; then
      echo "rabbitmq: amqps on 127.0.0.1:5671"
      return 0
    fi
    sleep 1
  done
  echo "rabbitmq: the amqps listener did not come up on 127.0.0.1:5671" >&2
  return 1
}

wait_for_management() {
  for _ in $(seq 1 60); do
    if management_listening; then
      echo "rabbitmq: management API on 127.0.0.1:15672"
      return 0
    fi
    sleep 1
  done
  echo "rabbitmq: the management API did not come up on 127.0.0.1:15672" >&2
  return 1
}

if amqp_listening; then
  echo "rabbitmq: already listening on 127.0.0.1:5672"
  if ! management_listening; then
    echo "rabbitmq: enabling rabbitmq_management"
    rabbitmq-plugins -q enable rabbitmq_management
  fi
  wait_for_management
  ensure_tls_material
  configure_tls_listener
  ensure_tls_listening
  exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "rabbitmq: installing Debian's rabbitmq-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d may forbid starting services inside the install; we start it ourselves below.
  apt-get install -y -qq rabbitmq-server >/dev/null
fi

# No init system is guaranteed here (containers, CI sandboxes): start the server directly.
# A large max_message_size matches what the operator configures (docs/design.md "Security defaults").
conf=/etc/rabbitmq/rabbitmq.conf
if ! grep -q '^max_message_size' "$conf" 2>/dev/null; then
  echo 'max_message_size = 536870912' >> "$conf"
fi
ensure_tls_material
configure_tls_listener
if ! grep -q 'rabbitmq_management[],]' /etc/rabbitmq/enabled_plugins 2>/dev/null; then
  rabbitmq-plugins -q enable --offline rabbitmq_management
fi
if ! amqp_listening; then
  echo "rabbitmq: starting"
  if command -v rabbitmqctl >/dev/null && rabbitmqctl -q status >/dev/null 2>&1; then
    rabbitmqctl -q start_app
  else
    (setsid rabbitmq-server > /tmp/rabbitmq-server.log 2>&1 &)
  fi
fi
for _ in $(seq 1 120); do
  if amqp_listening; then
    echo "rabbitmq: listening on 127.0.0.1:5672"
    wait_for_management
    ensure_tls_listening
    exit 0
  fi
  sleep 1
done
echo "rabbitmq: did not come up within 120 s; log follows" >&2
tail -50 /tmp/rabbitmq-server.log >&2 || true
exit 1
