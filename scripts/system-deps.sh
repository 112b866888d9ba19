#!/usr/bin/env bash
# Debian packages the tests use: prometheus + promtool (production export), chromium (browser
# test). Installed when missing and we are root with apt; otherwise say what to install.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "note: tests needing ${need[*]} will be skipped; install with: sudo apt-get install ${need[*]}"
fi
