#!/usr/bin/env bash
# Runs the whole test suite, as README's Quick start says. Installs what the tests need on a
# fresh Debian/Ubuntu machine that has only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

# XGBoost (the forecasting crate builds it from source) needs cmake, a C++ compiler and
# libclang for its bindings: install them before the first build.
./deploy/build-tools.sh install

# The PostgreSQL tests start throwaway servers from the system's packages: install them now,
# and make those tests fail (not skip) if a server still cannot start.
./deploy/postgres.sh install
export SHELFFLOW_REQUIRE_POSTGRES=1

# The dashboard test drives a real headless Chromium: install it, and make that test fail (not
# skip) if the browser is still missing.
./deploy/chromium.sh install
export SHELFFLOW_REQUIRE_BROWSER=1

# The Fluvio tests need a local Fluvio (`fluvio-run` and `fluvio`, on PATH or in ~/.fluvio/bin),
# which no package registry has. Say before the run whether they run; without Fluvio they are
# left out (filtered out in the summary), not reported as passed.
has_fluvio() {
    for name in fluvio-run fluvio; do
        command -v "$name" >/dev/null 2>&1 || [ -x "$HOME/.fluvio/bin/$name" ] || return 1
    done
}
if has_fluvio; then
    echo "test.sh: Fluvio found: the Fluvio tests run against a throwaway local cluster" >&2
else
    echo "test.sh: Fluvio not installed (looked in PATH and ~/.fluvio/bin): the Fluvio tests are left out" >&2
    case " $* " in
        *" -- "*) set -- "$@" --skip on_a_fluvio_cluster_ ;;
        *) set -- "$@" -- --skip on_a_fluvio_cluster_ ;;
    esac
fi

# Release mode: the end-to-end tests run real pipelines, and the benchmarks' code paths are the
# ones worth testing. Builds once for tests and binary.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --workspace --release --locked "$@"
