package webhook

// The webhooks list live from the API server: pools (overlaps,
// advertisement references), peers (BGPAdvertisement references, and the
// users of a BFDProfile being deleted), BFD profiles (BGPPeer references),
// Communities (aliases unique, BGPAdvertisement aliases) and
// BGPAdvertisements (the users of a Community alias being removed).
//
// The certificate rotator reads its Secret and the webhook configuration
// through informers that select each by name (metadata.name field selector,
// see scopeToNames), and updates only those two. The API server authorizes
// a list or watch with such a selector against resourceNames, so both are
// granted by name, reads included: the controller can read no other Secret
// of its namespace (the speakers' memberlist key lives there too).
//
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools;bgppeers;bfdprofiles;communities;bgpadvertisements,verbs=list
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=ironlb-validating-webhook-configuration,verbs=list;watch;update
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets,resourceNames=ironlb-webhook-cert,verbs=list;watch;update
