# Sourced by the deploy scripts: installs Debian/Ubuntu packages with apt-get (with sudo when
# not root), or stops with a clear message where there is no apt-get.
#
#   install_packages "PostgreSQL (initdb, pg_ctl)" postgresql

install_packages() {
    local what="$1"
    shift
    if ! command -v apt-get >/dev/null 2>&1; then
        log "no $what found and no apt-get to install it: install $what and retry"
        exit 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    log "installing $what from the system packages"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}
