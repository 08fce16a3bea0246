// Package integration tests ironlb-controller against a real kube-apiserver
// and etcd (controller-runtime's envtest): every row of the Service table of
// docs/api.md, every allocation failure reason, class handling, restarts, a
// concurrent burst into a small pool, and IPAddressPool edits, deletion and
// validation.
//
// Run it with the binaries built by hack/envtest.sh:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test -tags envtest -count=1 ./test/integration/
//
// Without KUBEBUILDER_ASSETS the suite runs hack/envtest.sh itself.
package integration
