#!/usr/bin/env bash
# Debian's Chromium for the real-browser tests (Playwright drives it; nothing else is downloaded).
# Run by `make browser` / `make test`; needs root or sudo. Does nothing when Chromium is there.
#
# Another apt or dpkg (unattended upgrades, a second install) holds apt's locks for a while; this
# waits for them instead of failing with "Could not get lock": `apt-get install` waits through
# `-o DPkg::Lock::Timeout`, but `apt-get update` ignores that option for its own lock on
# /var/lib/apt/lists (apt 2.6: it fails at once), so the update is retried while that lock is busy.
set -euo pipefail

CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
LOCK_WAIT_SECONDS=${APT_LOCK_WAIT_SECONDS:-300}

if [ -x "$CHROMIUM_PATH" ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
deadline=$(( $(date +%s) + LOCK_WAIT_SECONDS ))
until output=$($sudo apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT_SECONDS" update -qq 2>&1); do
  if ! grep -q "Could not get lock" <<<"$output" || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$output" >&2
    exit 1
  fi
  echo "install_chromium: another apt holds /var/lib/apt/lists/lock; waiting (up to ${LOCK_WAIT_SECONDS} s)..." >&2
  sleep 5
done
if [ -n "$output" ]; then
  echo "$output" >&2
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT_SECONDS" install -y -qq chromium
