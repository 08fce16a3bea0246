#!/usr/bin/env bash
# Builds Prometheus's promtool from the Go module proxy (no release downloads
# are reachable from CI) and caches it. Prints the path of the promtool binary.
# test/chart runs it on the chart's PrometheusRule (check rules, test rules)
# and on the dashboard's queries.
#
#   IRONLB_PROMTOOL_DIR  override the cache directory
#
# The build runs outside this repository's module (go install pkg@version), so
# it never touches go.mod or go.sum.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
# Prometheus's Go module versions are v0.<major><minor>.<patch>: v0.316.0 is
# Prometheus 3.16.0.
V=$PROMTOOL_VERSION
out=${IRONLB_PROMTOOL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ironlb/promtool/$V}

# Stamp the Prometheus version (promtool --version), as its release build does.
minor=${V#v0.}; patch=${minor#*.}; minor=${minor%%.*}
release="${minor:0:1}.$((10#${minor:1})).$patch"
ldflags="-s -w -X github.com/prometheus/common/version.Version=$release"
# remove_all_sd leaves out the cloud service discoveries, which checking and
# unit-testing rules never use; it roughly halves the build.
tags=remove_all_sd

if [ -x "$out/promtool" ] && [ "$(cat "$out/buildflags" 2>/dev/null)" = "$tags $ldflags" ]; then
  echo "$out/promtool"; exit 0
fi

mkdir -p "$out"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
echo "hack/promtool.sh: building promtool $release (a few minutes on 2 cores, once)" >&2
cd "$work"
GOBIN="$work" go install -tags "$tags" -ldflags "$ldflags" "github.com/prometheus/prometheus/cmd/promtool@$V"
mv "$work/promtool" "$out/promtool"
echo "$tags $ldflags" > "$out/buildflags"
echo "$out/promtool"
