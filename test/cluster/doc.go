// Package cluster holds the end-to-end tests on a real cluster in the lab:
// three kubelet and containerd nodes in network namespaces, IronLB installed
// with its Helm chart, backends in pods, and a client reaching them through
// the external IP (see test/lab for the network). The tests need root and
// build only with the lab tag (make test sets it).
package cluster
