#!/usr/bin/env bash
# The native build tools the forecasting crate needs: `xgboost-rs` builds its bundled XGBoost
# with cmake and generates its bindings with bindgen, which loads libclang.
#
#   deploy/build-tools.sh install   install cmake and libclang-dev when either is missing
set -euo pipefail

log() { echo "build-tools.sh: $*" >&2; }
# shellcheck source=deploy/packages.sh
. "$(dirname "$0")/packages.sh"

has_libclang() {
    ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1
}

install_tools() {
    if command -v cmake >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 && has_libclang; then
        return 0
    fi
    install_packages "cmake and libclang (for XGBoost)" cmake libclang-dev g++
    command -v cmake >/dev/null 2>&1 || { log "the cmake package installed no cmake"; exit 1; }
    has_libclang || { log "the libclang-dev package installed no libclang"; exit 1; }
}

case "${1:-install}" in
    install) install_tools ;;
    *) log "usage: deploy/build-tools.sh install"; exit 2 ;;
esac
