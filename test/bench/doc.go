// Package bench measures IronLB end to end against a real API server: how
// long a burst of LoadBalancer Services waits for its ingress IPs, against
// the floor of a client that writes each status itself.
//
// The benchmarks need kube-apiserver and etcd, so they build only with the
// envtest tag:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test -tags envtest -run '^$' -bench . -benchtime 1x ./test/bench/
package bench
