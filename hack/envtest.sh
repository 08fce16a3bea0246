#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl for envtest from the Go module proxy
# (no release buckets are reachable from CI) and caches them. Prints the
# directory holding them, ready for KUBEBUILDER_ASSETS.
#
#   IRONLB_ENVTEST_DIR  override the cache directory
#   SKIP_KUBECTL=1      do not build kubectl
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=k8s-tools.sh
. "$here/k8s-tools.sh"
K8S=$K8S_VERSION
out=${IRONLB_ENVTEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ironlb/envtest/$K8S}

# have BINARY WANT ARGS...: BINARY is cached and ARGS print WANT.
# (Output is captured first: with pipefail, grep -q closing the pipe early
# would fail the check at random.)
have() { [ -x "$out/$1" ] || return 1; local v; v=$("$out/$1" "${@:3}" 2>/dev/null) || return 1; [[ $v == *"$2"* ]]; }
if have kube-apiserver "v$K8S" --version && have etcd "$ETCD_VERSION" --version \
   && { [ "${SKIP_KUBECTL:-}" = 1 ] || have kubectl "v$K8S" version --client; }; then
  echo "$out"; exit 0
fi

mkdir -p "$out"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tools/kube-apiserver" "$work/tools/kubectl" "$work/etcd" "$work/bin"
log() { echo "hack/envtest.sh: $*" >&2; }

# kube-apiserver and kubectl from a tools module pinned to K8S_VERSION.
k8s_tools_module "$work/tools"
cd "$work/tools"
cat > kube-apiserver/main.go <<'GO'
package main

import (
	"os"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
cat > kubectl/main.go <<'GO'
package main

import (
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) //nolint:errcheck
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
GO
ldf=$(k8s_ldflags)
# No -trimpath: the project's test build then reuses these compiled k8s.io packages.
log "building kube-apiserver v$K8S (about 10 minutes on 2 cores, once)"
go build -mod=mod -ldflags "$ldf" -o "$work/bin/kube-apiserver" ./kube-apiserver
if [ "${SKIP_KUBECTL:-}" != 1 ]; then
  log "building kubectl v$K8S"
  go build -mod=mod -ldflags "$ldf" -o "$work/bin/kubectl" ./kubectl
fi

# etcd in its own module so its dependencies don't perturb the apiserver's.
cd "$work/etcd"
printf 'module envtest-etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > go.mod
printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
log "building etcd v$ETCD_VERSION"
go build -mod=mod -ldflags "-s -w" -o "$work/bin/etcd" .
# Move into place only when all built, so an interrupted build leaves no
# half-written binary in the cache.
mv "$work"/bin/* "$out"/
echo "$out"
