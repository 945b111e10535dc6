#!/usr/bin/env bash
# Install the real services sentinel's tests and benchmarks run against, on a fresh Debian (12) machine.
#
# Run as root.  Idempotent: re-running only re-checks.
#   - Prometheus 2.42 + promtool and Alertmanager 0.25 + amtool from Debian's packages
#     (no recommends: no node exporter).
#   - Debian's packages would start their own prometheus / alertmanager daemons on the default
#     ports (9090, 9093, 9094).  The tests never use those (they start private copies on free
#     127.0.0.1 ports, see tests/services.py), but a stray system daemon still binds ports and
#     burns CPU, so this script keeps package installs from starting services (policy-rc.d),
#     then stops and disables any that run anyway.
#   - Elasticsearch: hook into scripts/install-elasticsearch.sh (owned by the logs tests) when
#     it exists; skip with SENTINEL_SKIP_ELASTICSEARCH=1.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
services=(prometheus prometheus-alertmanager prometheus-node-exporter)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-services: run as root (apt-get needs it)" >&2
  exit 1
fi

# 1. Keep package installs from starting daemons (restore any existing policy afterwards).
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
  saved="$(mktemp)"
  cp -p "$policy" "$saved"
fi
restore_policy() {
  if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

# 2. Packages (skipped when already present).
need=()
for bin in prometheus promtool prometheus-alertmanager amtool; do
  command -v "$bin" >/dev/null || need+=("$bin")
done
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends prometheus prometheus-alertmanager
fi

# 3. Stop and disable whatever Debian may have started (systemd or sysvinit).
for svc in "${services[@]}"; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$svc" ]; then
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null && update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done

# 4. Check: the versions the tests expect, and nothing of ours left on the default ports.
prometheus --version 2>&1 | head -1
prometheus-alertmanager --version 2>&1 | head -1
if command -v ss >/dev/null && ss -ltnH 2>/dev/null | awk '{print $4}' | grep -Eq ':(9090|9093|9094|9100)$'; then
  echo "install-services: note: something still listens on 9090/9093/9094/9100; tests do not use these ports" >&2
fi

# 5. Elasticsearch (separate script, separate owner).
if [ "${SENTINEL_SKIP_ELASTICSEARCH:-0}" != 1 ] && [ -x "$here/install-elasticsearch.sh" ]; then
  "$here/install-elasticsearch.sh"
fi
echo "install-services: ok"
