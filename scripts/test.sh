#!/usr/bin/env bash
# Install everything GRINDER's test suite needs on a fresh machine, then run lint, types and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration tests use: a real redis-server (HA lease), headless
# Chromium (the demo's HTML report is rendered and screenshotted), PostgreSQL (shared Optuna
# storage) and Prometheus with promtool (alert rules, scrape test). Tests start their own
# server instances on loopback ports; nothing here is left running.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "== installing ${missing[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[dev,test-clients,research]"

echo "== ruff"; ruff check src tests bench scripts
echo "== mypy (strict, src/grinder)"; mypy
# Random test order (pytest-random-order, module buckets) so hidden order dependence shows; the seed
# is printed: reproduce a failure with GRINDER_TEST_SEED=N scripts/test.sh (docs/testing.md).
seed="${GRINDER_TEST_SEED:-$RANDOM}"
echo "== pytest (random order, --random-order-seed=$seed)"
set +e
python -m pytest -q -p no:cacheprovider --random-order-seed="$seed" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit "$rc"
