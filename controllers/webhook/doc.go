// Package webhook implements IronLB's validating admission webhooks, served by
// ironlb-controller through controller-runtime's webhook server, and the
// rotation of their serving certificate (github.com/open-policy-agent/cert-controller).
//
// The webhooks reject what a CRD schema cannot: an IPAddressPool entry that does
// not parse or overlaps another pool, an advertisement naming a pool, peer or
// Community alias that does not exist, a BGPPeer with an unusable ASN or timers or
// naming a BFDProfile that does not exist, a Community alias name another
// Community holds; and the deletion of a BFDProfile or Community alias still in
// use. Every message names the field and the bad value, in the form of
// Kubernetes' own validation errors:
//
//	spec.addresses[1]: Invalid value: "198.51.100.20-198.51.100.10": range is reversed: ...
//
// Checks are pure functions over the object and the objects it refers to. The
// rules the controller or the speaker apply too live in api/v1beta1/validation
// (validation.ValidatePool, validation.ValidateBGPPeer, validation.LabelSelectors,
// communities and aggregation), so that what is admitted is what is used; the
// checks that only admission makes (the objects named must exist, objects in use
// must stay) are here (ValidateL2Advertisement, ValidateBGPAdvertisement,
// ValidateBGPPeerReferences, ValidateBFDProfileDeletion, AliasesLost). The
// admission handlers only read the objects from the API server and call them.
// Updates that leave spec untouched (finalizers, labels, status) are always
// admitted, so an object that got in before the webhook existed can still be
// labelled, and deleted unless it is a BFDProfile or Community still in use.
package webhook
