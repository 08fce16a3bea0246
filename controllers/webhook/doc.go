// Package webhook implements IronLB's validating admission webhooks, served by
// ironlb-controller through controller-runtime's webhook server, and the
// rotation of their serving certificate (github.com/open-policy-agent/cert-controller).
//
// The webhooks reject what a CRD schema cannot: an IPAddressPool entry that does
// not parse or overlaps another pool, an advertisement naming a pool or peer that
// does not exist, a BGPPeer with an unusable ASN or timers. Every message names the
// field and the bad value, in the form of Kubernetes' own validation errors:
//
//	spec.addresses[1]: Invalid value: "198.51.100.20-198.51.100.10": range is reversed: ...
//
// Checks are pure functions over the object and the objects it refers to
// (ValidatePool, ValidateL2Advertisement, ValidateBGPAdvertisement,
// ValidateBGPPeer); the admission handlers only read those objects from the API
// server and call them. Updates that leave spec untouched (finalizers, labels,
// status) are always admitted, so an object that got in before the webhook
// existed can still be labelled and deleted.
package webhook
