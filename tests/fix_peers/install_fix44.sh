#!/usr/bin/env bash
# Installs the FIX 4.4 data dictionary QuickFIX ships (spec/FIX44.xml of QuickFIX 1.15.1, the version of
# Debian's libquickfix-dev, which does not install it) as /usr/local/share/quickfix/FIX44.xml, unmodified:
# the QuickFIX test peers validate every message with it. The file comes from QuickFIX's 1.15.1 source
# release on PyPI (package "quickfix"); the archive's and the file's SHA-256 are checked.
set -euo pipefail
DEST=${1:-/usr/local/share/quickfix/FIX44.xml}
ARCHIVE_SHA256=e3564ad2dd155892dc74496d6f4db1794bd8f9f74450ccbb45571ffaa2815da2
FILE_SHA256=bf1954733e3d9a16293f90139fb95aa8bc49cd41b9663131fb5fb1e77593b78f

if [ -f "$DEST" ] && echo "$FILE_SHA256  $DEST" | sha256sum -c --status; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: "quickfix==1.15.1" -d "$tmp"
echo "$ARCHIVE_SHA256  $tmp/quickfix-1.15.1.tar.gz" | sha256sum -c --quiet
tar -xzf "$tmp/quickfix-1.15.1.tar.gz" -C "$tmp" quickfix-1.15.1/spec/FIX44.xml
echo "$FILE_SHA256  $tmp/quickfix-1.15.1/spec/FIX44.xml" | sha256sum -c --quiet
install -D -m 0644 "$tmp/quickfix-1.15.1/spec/FIX44.xml" "$DEST"
echo "installed QuickFIX's FIX44.xml as $DEST"
