#!/usr/bin/env bash
# Installs the Debian packages salesync's tests and demo need, when missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

want=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
command -v hledger >/dev/null 2>&1 || want+=(hledger)
command -v redis-server >/dev/null 2>&1 || want+=(redis-server)
[ -x /usr/bin/chromium ] || want+=(chromium)

[ ${#want[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "salesync setup: installing ${want[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
else
    echo "salesync setup: missing Debian packages: ${want[*]}" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y ${want[*]}" >&2
    exit 1
fi
