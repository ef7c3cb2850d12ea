#!/usr/bin/env bash
# Installs the system packages the full test suite and benchmarks use: firewall tools
# for the enforcer tests in network namespaces, fail2ban (its filters and
# fail2ban-regex for comparison), the CrowdSec firewall bouncer, nginx (to check
# exported include files), Chromium (to look at the exercise report) and nats-server
# (the bus tests start a private one to stop and restart it).
# Runs only as root on Debian/Ubuntu; elsewhere it says what it would need.
set -euo pipefail
pkgs=(nftables ipset iptables iproute2 fail2ban crowdsec-firewall-bouncer nginx-light chromium chromium-driver nats-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: missing ${missing[*]}; install them as root (apt-get install) for the full suite" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages must not start their own services on install (nginx, fail2ban would bind
# ports or touch the host firewall); the tests start what they need in namespaces.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
rm -f /usr/sbin/policy-rc.d
