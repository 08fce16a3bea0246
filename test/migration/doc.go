// Package migration tests the takeover of a MetalLB cluster by IronLB, step
// by step as docs/migration.md tells it, against a real kube-apiserver and
// etcd (controller-runtime's envtest): the API server holds MetalLB's
// objects (stand-in CRDs, testdata/metallb-crds.yaml) and Services with the
// addresses and annotations MetalLB left; kubectl-ironlb migrates the
// configuration and ironlb-controller, both built from this repository and
// run as processes, takes over. No Service's address may change.
//
// Run it with the binaries built by hack/envtest.sh:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test -tags envtest -count=1 ./test/migration/
//
// Without KUBEBUILDER_ASSETS the suite runs hack/envtest.sh itself.
// IRONLB_TEST_CONTROLLER and IRONLB_TEST_KUBECTL_IRONLB name prebuilt
// binaries instead of building them.
package migration
