#!/bin/sh
# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
# Install it when missing and we may (root); otherwise say plainly what is missing.
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests (apt-get install chromium)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) && exit 0
fi
echo "MISSING: /usr/bin/chromium. Install Debian's chromium package (apt-get install -y chromium);" >&2
echo "the browser tests will fail without it." >&2
exit 0
