#!/usr/bin/env bash
# Builds the node and control-plane components of the lab cluster from the Go
# module proxy (no release downloads are reachable from CI) and caches them:
# one multi-call binary, hyperkube, that runs kubelet, kube-proxy,
# kube-scheduler or kube-controller-manager by the name it is called with
# (symlinks beside it) or by its first argument. One binary links once and
# shares every package the four have in common. Prints the cache directory.
#
#   IRONLB_CLUSTER_DIR  override the cache directory
#
# containerd, runc and the CNI plugins come from Debian packages
# (hack/install-lab-packages.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=k8s-tools.sh
. "$here/k8s-tools.sh"
out=${IRONLB_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ironlb/cluster/$K8S_VERSION}
components=(kubelet kube-proxy kube-scheduler kube-controller-manager)

current() {
  local c v
  for c in "${components[@]}"; do
    [ -x "$out/$c" ] || return 1
    v=$("$out/$c" --version 2>/dev/null) || return 1
    [[ $v == *"v$K8S_VERSION" ]] || return 1
  done
}
if current; then echo "$out"; exit 0; fi

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tools/hyperkube" "$out"
k8s_tools_module "$work/tools"
cat > "$work/tools/hyperkube/main.go" <<'GO'
// Command hyperkube runs one Kubernetes component, chosen by the name it is
// called by or by its first argument. Only the chosen command is built, so
// the components' flags never meet.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var commands = map[string]func() *cobra.Command{
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
	"kube-proxy":              proxy.NewProxyCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := commands[name]; !ok && len(os.Args) > 1 {
		name = os.Args[1]
		os.Args = os.Args[1:]
	}
	newCommand, ok := commands[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: hyperkube kubelet|kube-proxy|kube-scheduler|kube-controller-manager [flags]")
		os.Exit(2)
	}
	os.Exit(cli.Run(newCommand()))
}
GO
echo "hack/cluster.sh: building kubelet, kube-proxy, kube-scheduler and kube-controller-manager v$K8S_VERSION (a few minutes after hack/envtest.sh, once)" >&2
# No -trimpath, as in hack/envtest.sh: the compile cache is shared with it.
(cd "$work/tools" && go build -mod=mod -ldflags "$(k8s_ldflags)" -o "$work/hyperkube" ./hyperkube)
# Move into place only when built, so an interrupted build leaves no
# half-written binary in the cache.
mv "$work/hyperkube" "$out/hyperkube"
for c in "${components[@]}"; do ln -sfn hyperkube "$out/$c"; done
echo "$out"
