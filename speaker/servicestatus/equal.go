package servicestatus

import (
	"slices"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// sameStatus reports whether a and b say the same, as
// equality.Semantic.DeepEqual would (nil and empty lists alike), field by
// field: a status lists every node advertising each address, so at 1,000
// nodes the reflective comparison costs hundreds of µs per Service.
// TestSameStatusCoversEveryField fails when the types gain a field this
// does not compare.
func sameStatus(a, b v1beta1.ServiceAnnouncementStatus) bool {
	return a.IPs == b.IPs && a.Layer2Nodes == b.Layer2Nodes && a.BGPNodes == b.BGPNodes &&
		slices.EqualFunc(a.Layer2, b.Layer2, func(x, y v1beta1.L2AddressAnnouncement) bool {
			return x.IP == y.IP && x.Node == y.Node && slices.Equal(x.Interfaces, y.Interfaces)
		}) &&
		slices.EqualFunc(a.BGP, b.BGP, func(x, y v1beta1.BGPAddressAnnouncement) bool {
			return x.IP == y.IP && slices.Equal(x.Nodes, y.Nodes) &&
				slices.EqualFunc(x.AdvertisedTo, y.AdvertisedTo, func(p, q v1beta1.BGPPeerGroup) bool {
					return slices.Equal(p.Peers, q.Peers) && slices.Equal(p.Nodes, q.Nodes)
				})
		})
}
