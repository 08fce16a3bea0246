package v1beta1

import corev1 "k8s.io/api/core/v1"

// ClassFilter decides which LoadBalancer Services IronLB handles, from the
// --load-balancer-class and --default-class flags. A Service of any other
// class is never touched: no status write, no event, no announcement.
//
// +kubebuilder:object:generate=false
type ClassFilter struct {
	// Class is the spec.loadBalancerClass handled.
	Class string
	// Default also handles Services with no spec.loadBalancerClass.
	Default bool
}

// Handles reports whether svc is a LoadBalancer Service of our class.
func (f ClassFilter) Handles(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && f.OwnsClass(svc)
}

// OwnsClass reports whether svc's class is ours, whatever its type. A Service
// that changed away from LoadBalancer has no class, so this is true for it
// exactly when class-less Services are ours.
func (f ClassFilter) OwnsClass(svc *corev1.Service) bool {
	if svc.Spec.LoadBalancerClass == nil {
		return f.Default
	}
	return *svc.Spec.LoadBalancerClass == f.Class
}
