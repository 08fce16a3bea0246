#!/usr/bin/env bash
# The README's demo (`make demo`, as root): a local API server, the namespace
# lab (three nodes running ironlb-speaker, a client, one bridge), the CRDs, a
# pool, ironlb-controller and a Service. It prints `kubectl get svc` with the
# Service's EXTERNAL-IP, then the client's ARP answer for that IP and which
# node gave it. Pass --wait to keep the lab up until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "hack/demo.sh: the lab uses network namespaces: run as root (sudo make demo)" >&2
  exit 1
fi
hack/install-lab-packages.sh
KUBEBUILDER_ASSETS=$(hack/envtest.sh)
export KUBEBUILDER_ASSETS
exec go run ./hack/lab --bin-dir bin "$@"
