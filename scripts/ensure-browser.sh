#!/bin/sh
# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here)
# and check accessibility with axe-core from the npm registry (MPL-2.0; installed under var/,
# which git ignores). Install what is missing when we may; otherwise say plainly what is missing.
AXE_VERSION=4.14.1
AXE_DIR=var/npm

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests (apt-get install chromium)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ||
      echo "MISSING: apt-get install chromium failed" >&2
  else
    echo "MISSING: /usr/bin/chromium. Install Debian's chromium package (apt-get install -y chromium);" >&2
    echo "the browser tests will fail without it." >&2
  fi
fi

if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing npm for axe-core (apt-get install npm)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null || true
  fi
  if command -v npm >/dev/null 2>&1; then
    echo "Installing axe-core $AXE_VERSION for the accessibility check (npm install)..."
    mkdir -p "$AXE_DIR"
    npm install --silent --no-audit --no-fund --prefix "$AXE_DIR" "axe-core@$AXE_VERSION" >/dev/null ||
      echo "MISSING: npm install axe-core failed" >&2
  else
    echo "MISSING: npm, to install axe-core into $AXE_DIR; the accessibility test will fail without it." >&2
  fi
fi
exit 0
