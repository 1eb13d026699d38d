#!/usr/bin/env bash
# Runs every test (unit, API, engine, E2E in a real browser, multi-node on a real PostgreSQL).
# On a fresh Debian machine it first installs what the tests need: Chromium, PostgreSQL and promtool from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# promtool (Prometheus's linter) checks a real scrape of /api/metrics; Debian ships it in the prometheus package.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing ${need[*]} from Debian's packages…"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

dotnet tool restore >/dev/null
dotnet build Console.sln -c Release -warnaserror
mkdir -p artifacts
# The unit and E2E projects run side by side, so a failure's report lands mid-output; it is repeated at the end, where a
# CI log cut to its tail still shows it.
set +e
dotnet test Console.sln -c Release --no-build --logger "console;verbosity=normal" --results-directory artifacts/test-results "$@" 2>&1 | tee artifacts/test-output.log
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "=== the failures again (the whole output is in artifacts/test-output.log) ==="
  # The console logger's own line is exactly "  Failed <test> [<time>]"; the app's log lines around it are left out.
  { grep -E -A 60 '^  Failed [^ ].* \[[^]]+\]$' artifacts/test-output.log | grep -v -E '^\s*(info|warn|dbug): |^\s{6}' | head -250; } || true
  grep -E 'Test Run Aborted|active test run was aborted|Test Run Failed|Total tests|Passed:|Failed:' artifacts/test-output.log || true
fi
exit "$rc"
