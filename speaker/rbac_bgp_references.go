package speaker

// BGPPeers name BFDProfiles (spec.bfdProfile) and BGPAdvertisements name
// Community aliases (spec.communities): the speaker watches both, and
// reports whether it can run each BFDProfile in its Ready condition.
//
// +kubebuilder:rbac:groups=ironlb.io,resources=bfdprofiles;communities,verbs=list;watch
// +kubebuilder:rbac:groups=ironlb.io,resources=bfdprofiles/status,verbs=patch
