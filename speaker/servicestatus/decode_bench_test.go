package servicestatus

import (
	"testing"

	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// BenchmarkDecodeWatchedObject is what every speaker pays to decode the
// object of one watch event of a ServiceAnnouncement (one address
// announced at layer 2 and by BGP from 3 nodes to 2 peers, with the
// managed fields of its creation and of its status apply, which the cache
// strips only after decoding): whole as JSON, as the typed informer did,
// and its metadata as protobuf, as the metadata informer does. Each
// object makes two events (create, status) on every speaker.
func BenchmarkDecodeWatchedObject(b *testing.B) {
	sa := sampleAnnouncement()
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	whole := codecOf(b, serializer.NewCodecFactory(scheme), runtime.ContentTypeJSON)
	meta := codecOf(b, metainternalversionscheme.Codecs, runtime.ContentTypeProtobuf)
	pom := &metav1.PartialObjectMetadata{ObjectMeta: sa.ObjectMeta}
	pom.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
	for _, tc := range []struct {
		name  string
		codec runtime.Serializer
		obj   runtime.Object
		into  func() runtime.Object
	}{
		{"json-whole", whole, sa, func() runtime.Object { return &v1beta1.ServiceAnnouncement{} }},
		{"protobuf-metadata", meta, pom, func() runtime.Object { return &metav1.PartialObjectMetadata{} }},
	} {
		data, err := runtime.Encode(tc.codec, tc.obj)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := tc.codec.Decode(data, nil, tc.into()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes/object")
		})
	}
}

func codecOf(b *testing.B, codecs serializer.CodecFactory, mediaType string) runtime.Serializer {
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		b.Fatalf("no %s serializer", mediaType)
	}
	return info.Serializer
}

// sampleAnnouncement is a ServiceAnnouncement as the API server sends it.
func sampleAnnouncement() *v1beta1.ServiceAnnouncement {
	nodes := []string{"node-a", "node-b", "node-c"}
	sa := &v1beta1.ServiceAnnouncement{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: "svc-01234", UID: "5f1c8a52-7d0e-4a63-9a4e-0c3b8f1d2e47",
			ResourceVersion: "1234567", Generation: 1, CreationTimestamp: metav1.Now(),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "svc-01234",
				UID: "0b9d6f3e-2a41-4c7e-8d15-6e2f4a9c1b73", Controller: new(true)}},
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: "ironlb-speaker", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "ironlb.io/v1beta1",
				Time: new(metav1.Now()), FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:ownerReferences":{".":{},"k:{\"uid\":\"0b9d6f3e-2a41-4c7e-8d15-6e2f4a9c1b73\"}":{}}}}`)},
			}, {
				Manager: "ironlb-speaker", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "ironlb.io/v1beta1",
				Time: new(metav1.Now()), FieldsType: "FieldsV1", Subresource: "status",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:bgp":{"k:{\"ip\":\"2001:db8::1\"}":{".":{},"f:advertisedTo":{},"f:ip":{},"f:nodes":{}}},` +
					`"f:bgpNodes":{},"f:ips":{},"f:layer2":{"k:{\"ip\":\"2001:db8::1\"}":{".":{},"f:ip":{},"f:node":{}}},"f:layer2Nodes":{}}}`)},
			}},
		},
		Status: v1beta1.ServiceAnnouncementStatus{
			IPs: "2001:db8::1", Layer2Nodes: "node-b", BGPNodes: 3,
			Layer2: []v1beta1.L2AddressAnnouncement{{IP: "2001:db8::1", Node: "node-b"}},
			BGP: []v1beta1.BGPAddressAnnouncement{{IP: "2001:db8::1", Nodes: nodes,
				AdvertisedTo: []v1beta1.BGPPeerGroup{{Peers: []string{"router-1", "router-2"}, Nodes: nodes}}}},
		},
	}
	sa.SetGroupVersionKind(saGVK)
	return sa
}
