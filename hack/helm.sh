#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy (no release downloads are
# reachable from CI) and caches it. Prints the path of the helm binary.
#
#   IRONLB_HELM_DIR  override the cache directory
#
# The build runs outside this repository's module (go install pkg@version), so
# it never touches go.mod or go.sum.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
V=$HELM_VERSION
out=${IRONLB_HELM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ironlb/helm/$V}

# helm's release build stamps its version and the Kubernetes version it
# defaults to (helm template, helm lint; else v1.20, older than the chart's
# kubeVersion) from the client-go it is built with; do the same.
gomod=$(cd / && go mod download -json "helm.sh/helm/v3@$V" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
kminor=$(awk '$1 == "k8s.io/client-go" {split($2, v, "."); print v[2]}' "$gomod")
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$V"
for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags="$ldflags -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$kminor"
done

if [ -x "$out/helm" ] && [ "$(cat "$out/ldflags" 2>/dev/null)" = "$ldflags" ]; then
  echo "$out/helm"; exit 0
fi

mkdir -p "$out"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
echo "hack/helm.sh: building helm $V (a few minutes on 2 cores, once)" >&2
cd "$work"
GOBIN="$work" go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$V"
mv "$work/helm" "$out/helm"
echo "$ldflags" > "$out/ldflags"
echo "$out/helm"
