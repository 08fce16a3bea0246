package announce

import "k8s.io/apimachinery/pkg/labels"

// ExcludeLabel keeps a node from announcing any load-balancer address, whatever
// its value (the same label kube-controller-manager's service controller honours).
const ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

// Eligible reports whether n may announce anything at all: Ready, network
// available, not excluded by label, and its speaker alive.
func Eligible(n Node, live map[string]bool) bool {
	return Eligibility{}.Eligible(n, live)
}

// Eligibility is the rule that decides which nodes may announce at all.
// Every speaker must apply the same one (the winner rule assumes they agree
// on the candidates), which holds because it comes from the speakers'
// common flags.
type Eligibility struct {
	// IgnoreExcludeLabel lets nodes carrying ExcludeLabel announce
	// (ironlb-speaker --ignore-exclude-lb, as MetalLB's flag of that
	// name). Clusters whose nodes are all control-plane nodes need it:
	// kubeadm and others set the label on control-plane nodes.
	IgnoreExcludeLabel bool
}

// Eligible reports whether n may announce anything at all: Ready, network
// available, not excluded by label (unless IgnoreExcludeLabel), and its
// speaker alive.
func (e Eligibility) Eligible(n Node, live map[string]bool) bool {
	if !n.Ready || n.NetworkUnavailable || !live[n.Name] {
		return false
	}
	_, excluded := n.Labels[ExcludeLabel]
	return !excluded || e.IgnoreExcludeLabel
}

// nodeSelected applies the "empty = every node" rule of nodeSelectors: a
// node matches when it matches any selector.
func nodeSelected(sels []labels.Selector, n *Node) bool {
	if len(sels) == 0 {
		return true
	}
	set := labels.Set(n.Labels)
	for _, s := range sels {
		if s != nil && s.Matches(set) {
			return true
		}
	}
	return false
}
