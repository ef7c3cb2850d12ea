#!/usr/bin/env bash
# Installs what the benchmarks compare against beyond scripts/system-deps.sh:
# CrowdSec itself (its Local API and cscli), so the interop benchmark can measure
# CrowdSec's bouncer API side by side with ours on the same machine.
# Runs only as root on Debian/Ubuntu; elsewhere it says what it would need.
# Installs offline: no online API registration, no service started on install.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-packages.sh"
need_packages bench-deps "to compare with CrowdSec" crowdsec
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
install_without_services "${missing[@]}"
