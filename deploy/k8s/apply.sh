#!/usr/bin/env bash
# Deploys shelfflow's StatefulSet with the repository's store pipelines and the database URL of
# the environment (never written to a file):
#   DATABASE_URL=postgres://... deploy/k8s/apply.sh [kubectl args, e.g. -n retail]
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DATABASE_URL:?set DATABASE_URL (the PostgreSQL the sinks write)}"
# The pipelines, as a ConfigMap (one key per file): edit them here and rerun to redeploy.
kubectl "$@" create configmap shelfflow-pipelines --from-file=pipelines/ \
    --dry-run=client -o yaml | kubectl "$@" apply -f -
# The Secrets from the environment: the database, and the API's write token (SHELFFLOW_TOKEN, or
# a random one).
kubectl "$@" create secret generic shelfflow-db --from-literal=DATABASE_URL="$DATABASE_URL" \
    --dry-run=client -o yaml | kubectl "$@" apply -f -
TOKEN="${SHELFFLOW_TOKEN:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
kubectl "$@" create secret generic shelfflow-token --from-literal=TOKEN="$TOKEN" \
    --dry-run=client -o yaml | kubectl "$@" apply -f -
kubectl "$@" apply -f deploy/k8s/service.yaml -f deploy/k8s/statefulset.yaml
# A changed ConfigMap is only read at start: restart every process together.
kubectl "$@" rollout restart statefulset/shelfflow
