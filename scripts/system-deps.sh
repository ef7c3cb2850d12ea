#!/usr/bin/env bash
# Installs the system packages the full test suite and benchmarks use: firewall tools
# for the enforcer tests in network namespaces, fail2ban (its filters and
# fail2ban-regex for comparison), the CrowdSec firewall bouncer, nginx (to check
# exported include files), Chromium (to look at the exercise report), nats-server
# (the bus tests start a private one to stop and restart it), systemd's
# systemd-analyze (to verify the service units offline), man with groff (to render
# the manual page), and a real OpenSSH server and client with sshpass (each member of
# the early-warning test and of `shieldwall demo --nftables` runs its own sshd in its
# namespace; the attacker makes real password attempts).
# Runs only as root on Debian/Ubuntu; elsewhere it says what it would need.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-packages.sh"
pkgs=(nftables ipset iptables iproute2 fail2ban crowdsec-firewall-bouncer nginx-light chromium chromium-driver nats-server
      systemd man-db groff-base openssh-server openssh-client sshpass)
need_packages system-deps "for the full suite" "${pkgs[@]}"
# Packages must not start their own services on install (nginx, fail2ban would bind
# ports or touch the host firewall); the tests start what they need in namespaces.
install_without_services "${missing[@]}"
