package webhook

// The webhooks list pools (overlaps, advertisement references) and peers
// (BGPAdvertisement references) live from the API server.
//
// The certificate rotator reads its Secret and the webhook configuration
// through informers that select each by name (metadata.name field selector,
// see scopeToNames), and updates only those two. The API server authorizes
// a list or watch with such a selector against resourceNames, so both are
// granted by name, reads included: the controller can read no other Secret
// of its namespace (the speakers' memberlist key lives there too).
//
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools;bgppeers,verbs=list
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=ironlb-validating-webhook-configuration,verbs=list;watch;update
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets,resourceNames=ironlb-webhook-cert,verbs=list;watch;update
