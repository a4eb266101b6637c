#!/usr/bin/env bash
# Make sure the browser tests have Debian's chromium (and chromedriver) at /usr/bin: the
# machines cannot download Playwright's own browser builds, so Playwright drives this one.
# Installs the Debian packages when /usr/bin/chromium is missing; needs root (CI is root).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: /usr/bin/chromium is missing and apt-get is not available to install it." >&2
  echo "       Install Debian's chromium and chromium-driver packages." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: /usr/bin/chromium is missing; installing it needs root (or sudo)." >&2
    exit 1
  fi
fi
echo "Installing Debian's chromium and chromium-driver for the browser tests."
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  chromium chromium-driver fonts-dejavu-core
test -x /usr/bin/chromium
/usr/bin/chromium --version
