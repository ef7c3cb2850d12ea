#!/usr/bin/env bash
# Installs what the benchmarks compare against beyond scripts/system-deps.sh:
# CrowdSec itself (its Local API and cscli), so the interop benchmark can measure
# CrowdSec's bouncer API side by side with ours on the same machine.
# Runs only as root on Debian/Ubuntu; elsewhere it says what it would need.
# Installs offline: no online API registration, no service started on install.
set -euo pipefail
pkgs=(crowdsec)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "bench-deps: missing ${missing[*]}; install them as root (apt-get install) to compare with CrowdSec" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# CrowdSec's postinst registers with the online API unless this file exists and is
# not empty (see /usr/share/doc/crowdsec/README.Debian): a comment opts out. An
# existing file with credentials in it is left alone.
capi=/etc/crowdsec/online_api_credentials.yaml
if [ ! -s "$capi" ]; then
  mkdir -p /etc/crowdsec
  echo '# no online API: installed for benchmarks only' > "$capi"
fi
# The package must not start its service on install: the benchmark starts a private
# Local API of its own, and nothing may touch the host firewall.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
