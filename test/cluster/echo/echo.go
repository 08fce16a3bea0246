// Package echo holds the reply of the lab cluster's backend
// (test/cluster/images/echo), so the server and the tests that query it
// through a LoadBalancer encode and decode one and the same type.
package echo

// Reply is what the backend answers to every request: who answered (pod and
// node) and whom it saw as the client, which tells a test where a packet went
// and whether the client address survived the trip (externalTrafficPolicy).
type Reply struct {
	Pod    string `json:"pod"`
	Node   string `json:"node"`
	Client string `json:"client"`
}
