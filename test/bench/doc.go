// Package bench measures IronLB end to end against a real API server: how
// long a burst of LoadBalancer Services waits for its ingress IPs, against
// the floor of a client that writes each status itself, and what the
// controller spends on it: CPU (counted until it has written every
// Service's Event, which it does in the background), peak RSS, reconciles
// and API requests per Service, and the CPU the API server and etcd spend.
//
// The benchmarks need kube-apiserver and etcd, so they build only with the
// envtest tag:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test -tags envtest -run '^$' -bench . -benchtime 1x ./test/bench/
//
// IRONLB_BENCH_SIZES sets the burst sizes ("1000,5000"),
// IRONLB_BENCH_CONTROLLER a prebuilt ironlb-controller to measure instead
// of building one, and IRONLB_BENCH_CPUPROFILE a directory for the
// controller's CPU and allocation profiles of each burst, read through its
// --pprof-bind-address (profiling costs the controller some CPU itself:
// compare CPU figures from runs without it).
package bench
