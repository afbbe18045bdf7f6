#!/usr/bin/env bash
# Install the Debian/Ubuntu packages given as arguments when their commands are missing.
# Usage: scripts/system-packages.sh PACKAGE[:COMMAND] ...   (COMMAND defaults to PACKAGE)
set -euo pipefail

missing=()
for spec in "$@"; do
  pkg=${spec%%:*}
  cmd=${spec#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && ! dpkg -s "$pkg" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "cunxiang needs these system packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "cunxiang needs: ${missing[*]}; this is not a Debian/Ubuntu system, install them by hand" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
