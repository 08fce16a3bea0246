package speaker

// ServiceAnnouncements (speaker/servicestatus): the speakers cache their
// metadata only (list, watch), read whole from the API server (get) only
// the objects they write whose state their own record of their writes
// cannot tell, create them (owned by their Service), write their status
// with server-side apply, and delete those of Services no longer announced.
// They read the Services they own from the cache, which the Services watch
// already needs.
//
// +kubebuilder:rbac:groups=ironlb.io,resources=serviceannouncements,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=ironlb.io,resources=serviceannouncements/status,verbs=patch
