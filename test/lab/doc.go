// Package lab builds a small bare-metal network out of Linux network
// namespaces on one machine and runs the real IronLB binaries in it, so tests
// and benchmarks can check from the outside what a client or a router sees.
//
// The network (addresses are documentation ranges only; docs/operations.md,
// "The lab and the demo", has the whole plan):
//
//	                bridge br0 (namespace <prefix>switch)
//	  +-----------+-----------+-----------+-----------+-----------+
//	node-a      node-b      node-c      client      router      root namespace
//	.11 / ::11  .12 / ::12  .13 / ::13  .100/::100  .1 / ::1    .254 / ::254
//	         198.51.100.0/24 and 2001:db8:100::/64 on eth0
//
// With Options.SecondLAN every node and the client also have eth1 on a second
// bridge (192.0.2.0/24, 2001:db8:101::/64), for checks of L2Advertisement
// interfaces.
//
// The root namespace joins the bridge so that a kube-apiserver started with
// envtest can listen on 198.51.100.254, reachable from every node namespace.
// Every node namespace runs one ironlb-speaker with its own Node object; the
// controller runs in the root namespace; the router namespace runs FRR's
// zebra and bgpd as user frr.
//
// One lab exists on a machine at a time: Start takes an exclusive lock, then
// deletes whatever a crashed run left behind (namespaces, processes, work
// directories) before building anything. Close removes everything and is
// safe to call after a partial Start. Running a lab needs root.
//
// The tests that start a lab build only with the lab tag (make test sets it):
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test -tags envtest,lab ./test/lab/
//
// Without it, go test runs only the pure tests of the parsers and the FRR
// configuration (parse_test.go), as any user.
package lab
