# Sourced by system-deps.sh and bench-deps.sh, not run: which Debian packages are
# missing, and installing them without starting their services.

# need_packages TAG WHY PKG...: sets the array `missing` to the PKGs not installed and
# refreshes the package lists. Exits the script (0) when none is missing, or, after
# saying what to do (TAG names the script, WHY what the packages are for), when they
# cannot be installed here: not root, or no apt-get.
need_packages() {
  local tag=$1 why=$2 p
  shift 2
  missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && exit 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "$tag: missing ${missing[*]}; install them as root (apt-get install) $why" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
}

# install_without_services PKG...: apt-get install with every service start refused
# (policy-rc.d), removed again when the script exits, whether or not the install worked.
install_without_services() {
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
