#!/usr/bin/env bash
# Headless Chromium for the dashboard tests, from the system's packages.
#
#   deploy/chromium.sh install   install Debian's `chromium` package when no Chromium is found
#   deploy/chromium.sh path      print the browser's path (fails when there is none)
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }
# shellcheck source=deploy/packages.sh
. "$(dirname "$0")/packages.sh"

find_browser() {
    for name in chromium chromium-browser google-chrome; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

install_browser() {
    if find_browser >/dev/null; then
        return 0
    fi
    install_packages Chromium chromium fonts-dejavu-core
    find_browser >/dev/null || { log "the chromium package installed no browser"; exit 1; }
}

case "${1:-path}" in
    install) install_browser ;;
    path) find_browser ;;
    *) log "usage: deploy/chromium.sh install|path"; exit 2 ;;
esac
