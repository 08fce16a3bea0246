// Package validation holds the rules on IronLB objects that admission
// (controllers/webhook), the controller (controllers/ipam) and the speaker
// apply alike. Each rule is written once here, so that what the webhook
// admits is exactly what the controller uses and the speaker announces, and
// an object that got in without the webhook (it was off, or a pool changed
// under an advertisement) is refused at runtime for the same reason, shown
// in the object's status.
//
// Where the rules are:
//
//   - addresses.go: a pool's spec.addresses ([PoolAddresses]: entries parse
//     with api/iprange and do not overlap each other) and the rule between
//     pools ([PoolOverlaps]: an address belongs to one pool only);
//   - pool.go: every rule on an IPAddressPool at once, as admission answers
//     ([ValidatePool]);
//   - selectors.go: the one parser of label selectors ([LabelSelectors]) and
//     the pool selection of advertisements ([SelectsPool]);
//   - bgppeer.go: BGPPeer ASNs (peerASN or dynamicASN), timers, addresses,
//     VRF and BFD use ([ValidateBGPPeer] and the checks it is made of), and
//     the defaults the speaker applies ([ConnectTime], [IsIBGP]);
//   - bfdprofile.go: BFDProfile bounds and defaults ([ValidateBFDProfile],
//     [BFDProfileSettings]);
//   - community.go: BGPAdvertisement communities: values, well-known names
//     and the one reading of an entry, aliases included
//     ([ResolveCommunities]);
//   - community_alias.go: the Community kind's aliases
//     ([ValidateCommunityAliases], [CommunityAliases]);
//   - aggregation.go: BGPAdvertisement aggregation lengths.
//
// Like Kubernetes' own pkg/apis/*/validation packages it returns
// field.ErrorList for whole fields; the parsers underneath are exported for
// the controller and the speaker, which need the values as well as the
// verdict. Where a problem shows in a status condition as well as in an
// admission answer, its type words it both ways (Field and Error), so both
// wordings live beside the rule.
package validation
