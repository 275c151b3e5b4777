#!/bin/sh
# Install the Debian packages named as arguments that are not installed yet,
# and only those. Uses sudo when not root. Prints nothing when all are there.
set -e
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: apt-get not found: install these packages by hand:$missing" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps: not root and no sudo: run as root, or install:$missing" >&2
        exit 1
    fi
    SUDO=sudo
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
