#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers on 127.0.0.1:5672: start it (installing Debian's package if missing).
set -euo pipefail
answers() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if answers; then exit 0; fi
if ! [ -x /usr/sbin/rabbitmq-server ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rabbitmq-server >/dev/null
fi
echo "starting RabbitMQ on 127.0.0.1:5672"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1
rabbitmq-server -detached || true
for _ in $(seq 1 60); do
  if rabbitmqctl -q await_startup >/dev/null 2>&1 && answers; then echo "RabbitMQ is up"; exit 0; fi
  sleep 1
done
echo "RabbitMQ did not start within 60 s (see /var/log/rabbitmq/)" >&2
exit 1
