#!/usr/bin/env bash
# Renders a `murmur trace --html` page in headless Chromium, saves a PNG and fails if the page
# logs a console error or does not finish drawing. For people who change Sources/MurmurTrace/TraceHTML.swift.
#
#   Scripts/trace-screenshot.sh [PAGE.html] [OUT.png]
#
# Without PAGE it generates a small synthetic trace (30 nodes, 5 records, 2 jobs) with the debug
# build of murmur and renders that. Installs Debian's `chromium` if it is missing (needs root).
set -euo pipefail
PAGE="${1:+$(realpath "$1")}"
OUT="$(realpath -m "${2:-$(dirname "$0")/../out/trace-screenshot.png}")"
cd "$(dirname "$0")/.."
mkdir -p "$(dirname "$OUT")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

CHROME="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$CHROME" ]; then
    echo "installing Debian's chromium (apt-get)…" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    CHROME="$(command -v chromium)"
fi

if [ -z "$PAGE" ]; then
    swift build --product murmur >/dev/null
    MURMUR=.build/debug/murmur
    "$MURMUR" trace --generate "$WORK/t.jsonl" --nodes 30 --degree 3 --records 5 --jobs 2 --skew-ms 5 >/dev/null
    # A truncated last line, to show the bad-line report too.
    printf '{"v":1,"t":5,"node":"ab' >> "$WORK/t.jsonl"
    "$MURMUR" trace "$WORK/t.jsonl" --html "$WORK/page.html" >/dev/null
    PAGE="$WORK/page.html"
fi

FLAGS=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars
       --user-data-dir="$WORK/profile" --no-first-run --disable-extensions)
# 1. The DOM after scripts ran: the page marks itself ready at the end of its script.
"$CHROME" "${FLAGS[@]}" --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom "file://$(realpath "$PAGE")" \
    >"$WORK/dom.html" 2>"$WORK/console.log" || true
# 2. The screenshot.
"$CHROME" "${FLAGS[@]}" --window-size=1400,2200 --virtual-time-budget=5000 --screenshot="$(realpath -m "$OUT")" \
    "file://$(realpath "$PAGE")" >/dev/null 2>&1 || true

status=0
if grep -E 'CONSOLE|Uncaught|SyntaxError|TypeError|ReferenceError' "$WORK/console.log" | grep -v 'Fontconfig' >&2; then
    echo "FAIL: console errors (above)" >&2; status=1
fi
if ! grep -q 'data-ready="yes"' "$WORK/dom.html"; then
    echo "FAIL: the page's script did not finish (no data-ready on <body>)" >&2; status=1
fi
if ! grep -q 'id="tree-svg"\|id="swimlane-svg"' "$WORK/dom.html"; then
    echo "FAIL: no tree or swimlane drawn" >&2; status=1
fi
[ -s "$OUT" ] || { echo "FAIL: no screenshot written" >&2; status=1; }
if [ $status = 0 ]; then echo "ok: $OUT ($(stat -c %s "$OUT") bytes), no console errors"; fi
exit $status
