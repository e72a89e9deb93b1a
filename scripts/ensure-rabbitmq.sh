#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers on 127.0.0.1:5672: installs Debian's rabbitmq-server
# when it is missing, starts it when it is not running, and waits until AMQP accepts connections.
set -euo pipefail

amqp_listening() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if amqp_listening; then
  echo "rabbitmq: already listening on 127.0.0.1:5672"
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
    exit 0
  fi
  sleep 1
done
echo "rabbitmq: did not come up within 120 s; log follows" >&2
tail -50 /tmp/rabbitmq-server.log >&2 || true
exit 1
