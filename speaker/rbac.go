package speaker

// The speaker reads through its informer cache, which needs only list and
// watch; get is needed for Nodes alone (its own Node, read once at start
// before the cache runs). Status is written with server-side apply (patch).
// Events use the events.k8s.io API.
//
// Secrets (BGP passwords) are read from one namespace only
// (--secret-namespace), which must hold nothing else: the cache lists every
// Secret of it, and RBAC cannot narrow list and watch to the Secrets the
// BGPPeers name without a field selector per Secret. Hence a namespace of
// their own, never the controller's, which holds the webhook's private keys;
// the chart names it "<release namespace>-bgp-secrets", the one below for a
// release in ironlb-system.
//
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools;l2advertisements;bgpadvertisements;bgppeers;bfdprofiles;communities,verbs=list;watch
// +kubebuilder:rbac:groups=ironlb.io,resources=l2advertisements/status;bgpadvertisements/status;bgppeers/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=ironlb-system-bgp-secrets,resources=secrets,verbs=list;watch
