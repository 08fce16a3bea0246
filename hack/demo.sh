#!/usr/bin/env bash
# The README's demo: a local API server, the CRDs, a pool, ironlb-controller and
# a Service that gets an external IP. `make demo` builds what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBEBUILDER_ASSETS=$(hack/envtest.sh)
export KUBEBUILDER_ASSETS
exec go run ./hack/demo --controller bin/ironlb-controller "$@"
