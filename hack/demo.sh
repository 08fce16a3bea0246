#!/usr/bin/env bash
# The README's demo (`make demo`, as root) on the lab cluster: a local API
# server, scheduler and controller manager, three node namespaces running
# containerd, kubelet and kube-proxy, a client, one bridge. It installs IronLB
# with Helm, applies a pool and an L2Advertisement, deploys a backend behind
# a LoadBalancer Service and prints `kubectl get svc` with its EXTERNAL-IP,
# the client's ARP answer for that IP and which node gave it, and finally an
# HTTP request from the client through that IP, answered by a backend pod
# naming itself, its node and the client address it saw. Pass --wait to keep
# the lab up until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "hack/demo.sh: the lab uses network namespaces and containers: run as root (sudo make demo)" >&2
  exit 1
fi
hack/install-lab-packages.sh
KUBEBUILDER_ASSETS=$(hack/envtest.sh)
export KUBEBUILDER_ASSETS
IRONLB_CLUSTER_ASSETS=$(hack/cluster.sh)
export IRONLB_CLUSTER_ASSETS
hack/helm.sh >/dev/null
exec go run ./hack/lab --images-dir dist "$@"
