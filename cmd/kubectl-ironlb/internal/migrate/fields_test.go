package migrate

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// disposition is what becomes of one MetalLB field.
type disposition int

const (
	// same: the IronLB object of the same kind and name holds the same
	// value at the same path.
	same disposition = iota
	// reported: a report entry on the object names the field (or a field
	// containing it).
	reported
	// implied: IronLB always behaves as the field asks; nothing to write.
	implied
)

// fieldTable says what becomes of every field of every MetalLB kind, by
// kind and path ("[*]" for any index). TestFieldTableCoversShapes checks it
// names every field of the shapes in package metallb, and
// TestEveryFieldConvertedOrReported checks each row on a fixture that sets
// every field.
var fieldTable = map[string]map[string]disposition{
	metallb.KindIPAddressPool: {
		"metadata.labels":                              same,
		"metadata.annotations":                         same,
		"spec.addresses[*]":                            same,
		"spec.autoAssign":                              same,
		"spec.avoidBuggyIPs":                           same,
		"spec.serviceAllocation.priority":              same,
		"spec.serviceAllocation.namespaces[*]":         same,
		"spec.serviceAllocation.namespaceSelectors[*]": same,
		"spec.serviceAllocation.serviceSelectors[*]":   same,
	},
	metallb.KindL2Advertisement: {
		"metadata.labels":                same,
		"metadata.annotations":           same,
		"spec.ipAddressPools[*]":         same,
		"spec.ipAddressPoolSelectors[*]": same,
		"spec.nodeSelectors[*]":          same,
		"spec.interfaces[*]":             same,
	},
	metallb.KindBGPAdvertisement: {
		"metadata.labels":                same,
		"metadata.annotations":           same,
		"spec.aggregationLength":         same,
		"spec.aggregationLengthV6":       same,
		"spec.localPref":                 same,
		"spec.communities[*]":            same,
		"spec.ipAddressPools[*]":         same,
		"spec.ipAddressPoolSelectors[*]": same,
		"spec.nodeSelectors[*]":          same,
		"spec.peers[*]":                  same,
	},
	metallb.KindBGPPeer: {
		"metadata.labels":               same,
		"metadata.annotations":          same,
		"spec.myASN":                    same,
		"spec.peerASN":                  same,
		"spec.dynamicASN":               same,
		"spec.peerAddress":              same,
		"spec.interface":                reported,
		"spec.sourceAddress":            same,
		"spec.peerPort":                 same,
		"spec.holdTime":                 same,
		"spec.keepaliveTime":            same,
		"spec.connectTime":              same,
		"spec.routerID":                 same,
		"spec.nodeSelectors[*]":         same,
		"spec.password":                 reported,
		"spec.passwordSecret.name":      reported,
		"spec.passwordSecret.namespace": reported,
		"spec.bfdProfile":               same,
		"spec.enableGracefulRestart":    same,
		"spec.ebgpMultiHop":             same,
		"spec.vrf":                      same,
		"spec.disableMP":                same,
		"spec.dualStackAddressFamily":   implied, // IronLB negotiates both families on every session
	},
	metallb.KindCommunity: {
		"spec.communities[*].name":  same,
		"spec.communities[*].value": same,
	},
	metallb.KindBFDProfile: {
		"spec.receiveInterval":  same,
		"spec.transmitInterval": same,
		"spec.detectMultiplier": same,
		"spec.echoInterval":     reported, // IronLB's BFD has no echo function
		"spec.echoMode":         reported,
		"spec.passiveMode":      same,
		"spec.minimumTtl":       reported, // multihop only in MetalLB; IronLB's BFD is single hop
	},
}

// TestFieldTableCoversShapes checks that fieldTable names every field of
// the MetalLB shapes, and nothing else: a field added to a shape needs a
// row, hence a decision.
func TestFieldTableCoversShapes(t *testing.T) {
	shapes := map[string]any{
		metallb.KindIPAddressPool:    metallb.IPAddressPoolSpec{},
		metallb.KindL2Advertisement:  metallb.L2AdvertisementSpec{},
		metallb.KindBGPAdvertisement: metallb.BGPAdvertisementSpec{},
		metallb.KindBGPPeer:          metallb.BGPPeerSpec{},
		metallb.KindCommunity:        metallb.CommunitySpec{},
		metallb.KindBFDProfile:       metallb.BFDProfileSpec{},
	}
	for kind, shape := range shapes {
		var paths []string
		shapePaths("spec", reflect.TypeOf(shape), &paths)
		var rows []string
		for p := range fieldTable[kind] {
			if strings.HasPrefix(p, "spec.") {
				rows = append(rows, p)
			}
		}
		slices.Sort(paths)
		slices.Sort(rows)
		if !slices.Equal(paths, rows) {
			t.Errorf("%s: fieldTable rows\n%v\ndiffer from the fields of the shape\n%v", kind, rows, paths)
		}
	}
}

// shapePaths lists the leaf JSON paths of t: label selectors and durations
// are leaves, as the converter copies them whole.
func shapePaths(prefix string, t reflect.Type, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(metav1.LabelSelector{}) || t == reflect.TypeOf(metav1.Duration{}):
		*out = append(*out, prefix)
	case t.Kind() == reflect.Slice:
		shapePaths(prefix+"[*]", t.Elem(), out)
	case t.Kind() == reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			shapePaths(prefix+"."+name, f.Type, out)
		}
	default:
		*out = append(*out, prefix)
	}
}

// TestEveryFieldConvertedOrReported walks every field the fixture sets
// (every field of every kind) and checks that the output carries it or the
// report names it, as fieldTable says.
func TestEveryFieldConvertedOrReported(t *testing.T) {
	docs := readDocs(t, "testdata/all-fields.yaml")
	var set metallb.Set
	var rep report.Report
	for _, d := range docs {
		set.Add(d, &rep)
	}
	if len(rep.Entries) > 0 {
		t.Fatalf("decoding the fixture reported %v", rep.Entries)
	}
	res := Convert(set, Options{})
	out := outputByKindName(t, &res)

	seen := map[string]bool{}
	for _, d := range docs {
		kind := d["kind"].(string)
		md := d["metadata"].(map[string]any)
		obj := report.Object{Kind: kind, Namespace: md["namespace"].(string), Name: md["name"].(string)}
		var leaves []leaf
		leafPaths("", d, &leaves)
		for _, l := range leaves {
			norm := indexRE.ReplaceAllString(l.path, "[*]")
			how, ok := fieldTable[kind][norm]
			if !ok {
				t.Errorf("%s: %s is in the fixture but not in fieldTable", obj, l.path)
				continue
			}
			seen[kind+" "+norm] = true
			if objectLeftOut(&res.Report, obj) {
				continue // the report names the field that made it so; checked below
			}
			checkField(t, obj, l, how, out[kind+"/"+obj.Name], &res)
		}
	}
	for kind, rows := range fieldTable {
		for p := range rows {
			if !seen[kind+" "+p] {
				t.Errorf("the fixture sets no %s %s", kind, p)
			}
		}
	}
	// A peer left out is left out because of a field the report names.
	for _, name := range []string{"unnumbered"} {
		obj := report.Object{Kind: metallb.KindBGPPeer, Namespace: "metallb-system", Name: name}
		if !objectLeftOut(&res.Report, obj) {
			t.Errorf("%s: not left out; report: %v", obj, res.Report.Entries)
		}
	}
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

type leaf struct {
	path  string
	value any
}

// leafPaths lists the fields doc sets: under spec, and the labels and
// annotations. Label selectors, labels and annotations are leaves whole.
func leafPaths(prefix string, v any, out *[]leaf) {
	switch {
	case prefix == "metadata.labels" || prefix == "metadata.annotations":
		*out = append(*out, leaf{prefix, v})
		return
	case strings.HasSuffix(indexRE.ReplaceAllString(prefix, ""), "Selectors") && indexRE.MatchString(prefix):
		*out = append(*out, leaf{prefix, v})
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if prefix == "" && k != "spec" && k != "metadata" {
				continue
			}
			if prefix == "metadata" && k != "labels" && k != "annotations" {
				continue
			}
			leafPaths(p, e, out)
		}
	case []any:
		for i, e := range v {
			leafPaths(prefix+"["+strconv.Itoa(i)+"]", e, out)
		}
	default:
		*out = append(*out, leaf{prefix, v})
	}
}

func checkField(t *testing.T, obj report.Object, l leaf, how disposition, out map[string]any, res *Result) {
	t.Helper()
	switch how {
	case same:
		if out == nil {
			t.Errorf("%s: %s: no IronLB object; report:\n%s", obj, l.path, strings.Join(entries(&res.Report), "\n"))
			return
		}
		got, ok := lookup(out, l.path)
		if !ok || !jsonEqual(got, l.value) {
			t.Errorf("%s: %s = %v, IronLB object has %v (present: %t)", obj, l.path, l.value, got, ok)
		}
	case reported:
		if !reportNames(&res.Report, obj, l.path) {
			t.Errorf("%s: %s = %v is neither in the output nor named in the report:\n%s", obj, l.path, l.value, strings.Join(entries(&res.Report), "\n"))
		}
	case implied:
	}
}

// objectLeftOut reports whether the report says obj is left out as a
// whole, for a reason it names.
func objectLeftOut(rep *report.Report, obj report.Object) bool {
	for _, e := range rep.Entries {
		if e.Object == obj && e.Outcome == report.Dropped && strings.Contains(e.Reason, "left out") {
			return true
		}
	}
	return false
}

// reportNames reports whether an entry on obj names path or a field
// containing it.
func reportNames(rep *report.Report, obj report.Object, path string) bool {
	for _, e := range rep.Entries {
		if e.Object != obj || e.Field == "" {
			continue
		}
		if e.Field == path || strings.HasPrefix(path, e.Field+".") || strings.HasPrefix(path, e.Field+"[") {
			return true
		}
	}
	return false
}

func lookup(obj map[string]any, path string) (any, bool) {
	var cur any = obj
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[name]; !ok {
			return nil, false
		}
		for rest != "" {
			var idx string
			idx, rest, _ = strings.Cut(rest, "]")
			rest = strings.TrimPrefix(rest, "[")
			i, _ := strconv.Atoi(idx)
			l, ok := cur.([]any)
			if !ok || i >= len(l) {
				return nil, false
			}
			cur = l[i]
		}
	}
	return cur, true
}

// jsonEqual compares two JSON values; durations by length ("90s" is
// "1m30s").
func jsonEqual(a, b any) bool {
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			da, errA := time.ParseDuration(sa)
			db, errB := time.ParseDuration(sb)
			if errA == nil && errB == nil {
				return da == db
			}
		}
	}
	norm := func(v any) any {
		raw, _ := json.Marshal(v)
		var out any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func readDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			break
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// outputByKindName holds the output objects as JSON maps, by "Kind/name".
func outputByKindName(t *testing.T, res *Result) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	add := func(kind, name string, obj any) {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		out[kind+"/"+name] = m
	}
	for i := range res.Pools {
		add(metallb.KindIPAddressPool, res.Pools[i].Name, &res.Pools[i])
	}
	for i := range res.Peers {
		add(metallb.KindBGPPeer, res.Peers[i].Name, &res.Peers[i])
	}
	for i := range res.BFDProfiles {
		add(metallb.KindBFDProfile, res.BFDProfiles[i].Name, &res.BFDProfiles[i])
	}
	for i := range res.Communities {
		add(metallb.KindCommunity, res.Communities[i].Name, &res.Communities[i])
	}
	for i := range res.L2Advertisements {
		add(metallb.KindL2Advertisement, res.L2Advertisements[i].Name, &res.L2Advertisements[i])
	}
	for i := range res.BGPAdvertisements {
		add(metallb.KindBGPAdvertisement, res.BGPAdvertisements[i].Name, &res.BGPAdvertisements[i])
	}
	return out
}
