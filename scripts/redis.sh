#!/usr/bin/env bash
# Make sure a Redis answers at 127.0.0.1:6379: start one (installing it if missing) when none does.
set -euo pipefail
ping() {
  { exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && exec 3>&-; } 2>/dev/null \
    && [[ "$reply" == +PONG* ]]
}
if ping; then
  exit 0
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis: installing redis-server"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
echo "redis: starting redis-server on 127.0.0.1:6379"
mkdir -p /tmp/chatops-redis
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir /tmp/chatops-redis --logfile /tmp/chatops-redis/redis.log
for _ in $(seq 50); do ping && exit 0; sleep 0.1; done
echo "redis: redis-server did not start (see /tmp/chatops-redis/redis.log)" >&2
exit 1
