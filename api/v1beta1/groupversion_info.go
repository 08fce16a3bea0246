// Package v1beta1 holds the ironlb.io/v1beta1 API: address pools and the
// advertisements and peers that tell speakers how to announce them, with the
// BFD profiles and community aliases peers and advertisements name. Every kind
// is cluster-scoped, like IngressClass. The README is the contract users rely on.
//
// +kubebuilder:object:generate=true
// +groupName=ironlb.io
package v1beta1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of every IronLB kind.
	GroupVersion = schema.GroupVersion{Group: "ironlb.io", Version: "v1beta1"}

	// SchemeBuilder registers the IronLB kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the IronLB kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
