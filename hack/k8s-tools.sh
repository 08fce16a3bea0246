# Sourced by hack/envtest.sh and hack/cluster.sh: how to build Kubernetes
# components from the Go module proxy. k8s.io/kubernetes replaces its staging
# modules with local paths, so a tools module pins each one to the matching
# published version; the list is read from k8s.io/kubernetes' own go.mod, so it
# never drifts from K8S_VERSION.

# k8s_tools_module DIR: writes DIR/go.mod requiring k8s.io/kubernetes.
k8s_tools_module() {
  local dir=$1 staging=0.${K8S_VERSION#1.} gomod
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  {
    printf 'module k8s-tools\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$K8S_VERSION"
    awk -v v="v$staging" '/^replace/{r=1} r && /=> \.\/staging/{print "\t" $1 " => " $1 " " v}' "$gomod"
    echo ')'
  } > "$dir/go.mod"
}

# k8s_ldflags: stripped, with the version stamped as a release build does.
k8s_ldflags() {
  local maj=${K8S_VERSION%%.*} min=${K8S_VERSION#*.} p ldf="-s -w"
  min=${min%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=$maj -X $p.gitMinor=$min -X $p.gitTreeState=clean"
  done
  echo "$ldf"
}
