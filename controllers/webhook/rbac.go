package webhook

// The webhooks list pools (overlaps, advertisement references) and peers
// (BGPAdvertisement references) live from the API server. The certificate
// rotator watches its Secret and the webhook configuration through caches
// and updates only those two objects, by name.
//
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools;bgppeers,verbs=list
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=ironlb-validating-webhook-configuration,verbs=update
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets,resourceNames=ironlb-webhook-cert,verbs=update
