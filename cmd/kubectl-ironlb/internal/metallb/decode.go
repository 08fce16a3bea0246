package metallb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// Set is everything read from the inputs: MetalLB's objects, and the
// Services and Namespaces the migration checks against them.
type Set struct {
	Pools             []IPAddressPool
	L2Advertisements  []L2Advertisement
	BGPAdvertisements []BGPAdvertisement
	Peers             []BGPPeer
	Communities       []Community
	BFDProfiles       []BFDProfile

	Services   []corev1.Service
	Namespaces []corev1.Namespace
}

// LegacyConfigMap is the name of the ConfigMap MetalLB read its
// configuration from before v0.13.
const LegacyConfigMap = "config"

// Decode reads every YAML or JSON document of r (several YAML documents
// separated by "---", a JSON stream, or a List such as `kubectl get -o yaml`
// prints) into s. Documents that are not MetalLB configuration, a Service or
// a Namespace are named in rep and otherwise ignored; source names r there.
// The error is for input that is not YAML or JSON at all.
func (s *Set) Decode(r io.Reader, source string, rep *report.Report) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		if doc == nil {
			continue // an empty document, as between two "---"
		}
		s.Add(doc, rep)
	}
}

// Add reads one object, given as the unstructured content of its JSON (as
// the dynamic client returns it), into s. What it cannot read goes to rep.
func (s *Set) Add(doc map[string]any, rep *report.Report) {
	apiVersion, _ := doc["apiVersion"].(string)
	kind, _ := doc["kind"].(string)
	gv, _ := schema.ParseGroupVersion(apiVersion)
	obj := objectOf(doc, kind)

	switch {
	case strings.HasSuffix(kind, "List") && doc["items"] != nil:
		items, _ := doc["items"].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				s.Add(m, rep)
			}
		}
	case gv.Group == Group:
		s.addMetalLB(doc, gv.Version, kind, obj, rep)
	case gv.Group == "" && kind == "Service":
		decodeInto(doc, obj, &s.Services, rep)
	case gv.Group == "" && kind == "Namespace":
		decodeInto(doc, obj, &s.Namespaces, rep)
	case gv.Group == "" && kind == "ConfigMap" && isLegacyConfig(doc, obj):
		rep.Add(obj, "", nil, report.Dropped,
			"MetalLB's configuration ConfigMap, which MetalLB stopped reading in v0.13; "+
				"convert it to MetalLB objects first (MetalLB's configmaptocrs) or write the IronLB objects by hand")
	default:
		rep.Add(obj, "", nil, report.Dropped, fmt.Sprintf("not MetalLB configuration (%s); ignored", apiVersion))
	}
}

// isLegacyConfig reports whether doc is MetalLB's pre-v0.13 ConfigMap: named
// "config", with a "config" key.
func isLegacyConfig(doc map[string]any, obj report.Object) bool {
	data, _ := doc["data"].(map[string]any)
	_, ok := data["config"]
	return obj.Name == LegacyConfigMap && ok
}

func (s *Set) addMetalLB(doc map[string]any, version, kind string, obj report.Object, rep *report.Report) {
	switch {
	case kind == KindIPAddressPool && version == "v1beta1":
		decodeInto(doc, obj, &s.Pools, rep)
	case kind == KindL2Advertisement && version == "v1beta1":
		decodeInto(doc, obj, &s.L2Advertisements, rep)
	case kind == KindBGPAdvertisement && version == "v1beta1":
		decodeInto(doc, obj, &s.BGPAdvertisements, rep)
	case kind == KindBGPPeer && (version == "v1beta2" || version == "v1beta1"):
		// v1beta1's fields are a subset of v1beta2's, under the same names
		// and JSON shapes; see BGPPeerSpec.
		decodeInto(doc, obj, &s.Peers, rep)
	case kind == KindCommunity && version == "v1beta1":
		decodeInto(doc, obj, &s.Communities, rep)
	case kind == KindBFDProfile && version == "v1beta1":
		decodeInto(doc, obj, &s.BFDProfiles, rep)
	case kind == "ServiceL2Status" || kind == "ServiceBGPStatus" || kind == "ConfigurationState":
		rep.Add(obj, "", nil, report.Dropped,
			"status MetalLB writes, not configuration; `kubectl ironlb status` shows IronLB's")
	default:
		rep.Add(obj, "", nil, report.Dropped,
			fmt.Sprintf("%s/%s %s is not a kind MetalLB v0.15 reads (AddressPool was removed in v0.14: use IPAddressPool)", Group, version, kind))
	}
}

// objectOf names doc for the report.
func objectOf(doc map[string]any, kind string) report.Object {
	md, _ := doc["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	if kind == "" {
		kind = "(no kind)"
	}
	return report.Object{Kind: kind, Namespace: ns, Name: name}
}

// named is what decodeInto needs of an object to find a duplicate.
type named interface {
	GetName() string
	GetNamespace() string
}

// decodeInto decodes doc into a new element of list, reporting the fields
// it does not know. A second object of the same namespace and name replaces
// the first, with a report line: inputs that overlap (a file and a directory
// holding it) must not yield two objects of one name.
func decodeInto[T any, PT interface {
	*T
	named
}](doc map[string]any, obj report.Object, list *[]T, rep *report.Report) {
	raw, err := json.Marshal(doc)
	if err != nil {
		rep.Add(obj, "", nil, report.Dropped, "cannot be read: "+err.Error())
		return
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		rep.Add(obj, "", nil, report.Dropped, "cannot be read: "+err.Error())
		return
	}
	if _, isMetalLB := any(v).(interface{ metalLB() }); isMetalLB {
		for _, f := range unknownFields(doc, v) {
			rep.Add(obj, f.path, f.value, report.Dropped,
				"not a field of MetalLB v0.15 that this tool knows; if IronLB has an equivalent (docs/migration.md), set it by hand")
		}
	}
	p := PT(&v)
	i := slices.IndexFunc(*list, func(o T) bool {
		po := PT(&o)
		return po.GetName() == p.GetName() && po.GetNamespace() == p.GetNamespace()
	})
	if i >= 0 {
		rep.Add(obj, "", nil, report.Changed, "read twice from the input; the last one read is used")
		(*list)[i] = v
		return
	}
	*list = append(*list, v)
}

func (Object[S]) metalLB() {}

type unknown struct {
	path  string
	value any
}

// unknownFields returns the fields of doc's spec that typed (doc decoded)
// does not hold: each path present in doc with a value that is not empty,
// but absent once typed is encoded again. Empty values are left out: they
// mean nothing, and omitempty drops known empty fields the same way.
func unknownFields(doc map[string]any, typed any) []unknown {
	raw, err := json.Marshal(typed)
	if err != nil {
		return nil
	}
	var back map[string]any
	if err := json.Unmarshal(raw, &back); err != nil {
		return nil
	}
	var out []unknown
	for k, v := range doc {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
			// Metadata is ObjectMeta, known whole; status is never read.
			continue
		}
		walkMissing(k, v, back[k], &out)
	}
	slices.SortFunc(out, func(a, b unknown) int { return strings.Compare(a.path, b.path) })
	return out
}

func walkMissing(path string, orig, back any, out *[]unknown) {
	if empty(orig) {
		return
	}
	if back == nil {
		*out = append(*out, unknown{path, orig})
		return
	}
	switch o := orig.(type) {
	case map[string]any:
		b, _ := back.(map[string]any)
		for k, v := range o {
			walkMissing(path+"."+k, v, b[k], out)
		}
	case []any:
		b, _ := back.([]any)
		for i, v := range o {
			var bv any
			if i < len(b) {
				bv = b[i]
			}
			walkMissing(fmt.Sprintf("%s[%d]", path, i), v, bv, out)
		}
	}
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case int64:
		return v == 0
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}
