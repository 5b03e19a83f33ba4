#!/usr/bin/env bash
# down.sh: stop every testnet container (fault-check intruders included) and remove its network and volumes.
set -euo pipefail
# shellcheck source=testnet/lib.sh
source "$(dirname "$0")/lib.sh"
compose --profile faults down -v --remove-orphans -t 3 >&2 2>/dev/null || compose down -v --remove-orphans -t 3 >&2
