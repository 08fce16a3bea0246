package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Objects returns the result as objects to apply, in an order the
// webhooks accept: Secrets, pools, BFD profiles, then the peers that name
// them, Communities, then the advertisements that name pools, peers and
// aliases. Status is left out: IronLB writes it.
func (r *Result) Objects() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	add := func(kind string, obj runtime.Object) error {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", kind, err)
		}
		u := &unstructured.Unstructured{Object: m}
		delete(u.Object, "status")
		if kind != "Secret" {
			u.SetAPIVersion(v1beta1.GroupVersion.String())
		}
		u.SetKind(kind)
		out = append(out, u)
		return nil
	}
	for i := range r.Secrets {
		if err := add("Secret", &r.Secrets[i]); err != nil {
			return nil, err
		}
	}
	for i := range r.Pools {
		if err := add("IPAddressPool", &r.Pools[i]); err != nil {
			return nil, err
		}
	}
	for i := range r.BFDProfiles {
		if err := add("BFDProfile", &r.BFDProfiles[i]); err != nil {
			return nil, err
		}
	}
	for i := range r.Peers {
		if err := add("BGPPeer", &r.Peers[i]); err != nil {
			return nil, err
		}
	}
	for i := range r.Communities {
		if err := add("Community", &r.Communities[i]); err != nil {
			return nil, err
		}
	}
	for i := range r.L2Advertisements {
		if err := add("L2Advertisement", &r.L2Advertisements[i]); err != nil {
			return nil, err
		}
	}
	for i := range r.BGPAdvertisements {
		if err := add("BGPAdvertisement", &r.BGPAdvertisements[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WriteYAML writes objs as YAML documents separated by "---", which
// `kubectl apply -f` takes.
func WriteYAML(w io.Writer, objs []*unstructured.Unstructured) error {
	var buf bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSON writes objs as one v1 List, as `kubectl get -o json` prints
// several objects.
func WriteJSON(w io.Writer, objs []*unstructured.Unstructured) error {
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = o.Object
	}
	b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "    ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
