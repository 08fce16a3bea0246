package speaker

// The speaker reads through its informer cache, which needs only list and
// watch; get is needed for Nodes alone (its own Node, read once at start
// before the cache runs). Status is written with server-side apply (patch).
// Events use the events.k8s.io API. Secrets are read only in the namespace
// the chart installs into (--secret-namespace).
//
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools;l2advertisements;bgpadvertisements;bgppeers,verbs=list;watch
// +kubebuilder:rbac:groups=ironlb.io,resources=l2advertisements/status;bgpadvertisements/status;bgppeers/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=secrets,verbs=list;watch
