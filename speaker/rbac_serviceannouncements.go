package speaker

// ServiceAnnouncements (speaker/servicestatus): the speakers cache them,
// create them (owned by their Service), write their status with server-side
// apply, and delete those of Services no longer announced. They read the
// Services they own from the cache, which the Services watch already needs.
//
// +kubebuilder:rbac:groups=ironlb.io,resources=serviceannouncements,verbs=list;watch;create;delete
// +kubebuilder:rbac:groups=ironlb.io,resources=serviceannouncements/status,verbs=patch
