#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries are installed, installing Debian's
# postgresql package when they are not. The demo and the tests start their
# own throwaway cluster from these binaries; nothing here starts a server.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null || [[ -n "${PG_BINDIR:-}" ]]; then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "PostgreSQL server binaries not found. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y postgresql" >&2
    echo "or set PG_BINDIR to the folder that contains initdb and pg_ctl." >&2
    exit 1
fi

echo "Installing PostgreSQL from Debian's packages..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql > /dev/null
compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null
