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
dotnet test Console.sln -c Release --no-build --logger "console;verbosity=normal" --results-directory artifacts/test-results "$@"
