#!/usr/bin/env bash
# Installs the Debian packages the lab and the tests use, when missing: the
# network tools and FRR, and for the cluster lab the container runtime
# (containerd, runc, the CNI plugins) and what kube-proxy drives (iptables,
# conntrack). nsenter comes with util-linux, which every Debian has.
set -euo pipefail
pkgs=(iproute2 arping ndisc6 frr tcpdump procps containerd runc containernetworking-plugins iptables conntrack)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "hack/install-lab-packages.sh: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "hack/install-lab-packages.sh: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
