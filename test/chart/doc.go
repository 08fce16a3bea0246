// Package chart tests the Helm chart in charts/ironlb: helm lint and template
// output, the values schema, the RBAC it grants against what controller-gen
// derives from the code, and, against a real kube-apiserver in a network
// namespace of its own, helm install, upgrade and uninstall, the webhooks and
// the controller running under the chart's ServiceAccount.
//
// The suite needs root, envtest's binaries and helm, so its tests build only
// with the lab tag (make test sets it):
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test -tags envtest,lab -count=1 ./test/chart/
package chart
