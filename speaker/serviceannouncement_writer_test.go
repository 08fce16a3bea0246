//go:build envtest

package speaker_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/servicestatus"
)

// saRequest is one request a speaker made about ServiceAnnouncements.
type saRequest struct {
	method      string
	name        string // "" for a list, a watch or a create
	status      bool   // to the status subresource
	watch       bool
	accept      string
	contentType string // of the answer
}

// apiRecorder records a speaker's requests about ServiceAnnouncements, as
// the API server sees them: what it writes, reads, and in which form it
// asks for them.
type apiRecorder struct {
	mu   sync.Mutex
	reqs []saRequest
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// config returns cfg recording through r.
func (r *apiRecorder) config(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if rec, ok := saRequestOf(req); ok {
				if resp != nil {
					rec.contentType = resp.Header.Get("Content-Type")
				}
				r.mu.Lock()
				r.reqs = append(r.reqs, rec)
				r.mu.Unlock()
			}
			return resp, err
		})
	})
	return c
}

// saRequestOf describes req if it is about ServiceAnnouncements.
func saRequestOf(req *http.Request) (saRequest, bool) {
	_, rest, ok := strings.Cut(req.URL.Path, "/serviceannouncements")
	if !ok {
		return saRequest{}, false
	}
	rec := saRequest{method: req.Method, accept: req.Header.Get("Accept"), watch: req.URL.Query().Get("watch") == "true"}
	rest = strings.TrimPrefix(rest, "/")
	rec.name, rec.status = strings.TrimSuffix(rest, "/status"), strings.HasSuffix(rest, "/status")
	return rec, true
}

// since returns the requests recorded after the first n.
func (r *apiRecorder) since(n int) []saRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]saRequest(nil), r.reqs[n:]...)
}

func (r *apiRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// writesAndReads counts, in reqs, the writes (creates of any name, status
// writes and deletes of name) and the reads of name's whole object.
func writesAndReads(reqs []saRequest, name string) (writes, reads int) {
	for _, q := range reqs {
		switch {
		case q.method == http.MethodPost:
			writes++
		case q.name == name && (q.method == http.MethodPatch || q.method == http.MethodDelete || q.method == http.MethodPut):
			writes++
		case q.name == name && q.method == http.MethodGet:
			reads++
		}
	}
	return writes, reads
}

func getSA(c client.Client, name string) (*v1beta1.ServiceAnnouncement, error) {
	var sa v1beta1.ServiceAnnouncement
	err := c.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: name}, &sa)
	return &sa, err
}

// waitSA waits until the ServiceAnnouncement of name says owner answers
// for ip at layer 2, and returns its resourceVersion.
func waitSA(t *testing.T, c client.Client, name, ip, owner string) string {
	t.Helper()
	var version string
	eventually(t, fmt.Sprintf("ServiceAnnouncement of %s names %s", name, owner), func() error {
		sa, err := getSA(c, name)
		if err != nil {
			return err
		}
		if l2 := sa.Status.Layer2; len(l2) != 1 || l2[0].IP != ip || l2[0].Node != owner || sa.Status.Layer2Nodes != owner {
			return fmt.Errorf("status %+v", sa.Status)
		}
		version = sa.ResourceVersion
		return nil
	})
	return version
}

// A person edits a ServiceAnnouncement's status: its writer puts it back.
func TestServiceAnnouncementEditedByHand(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1", "127.0.0.2")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-b", "127.0.0.2", nil)
	create(t, c, pool("edited", "198.51.100.0/28"), l2adv("edited"))
	startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	startSpeaker(t, sharedK, speakerOpts{node: "node-b", addr: "127.0.0.2", port: port})

	const name, ip = "edited-web", "198.51.100.5"
	lbService(t, c, name, nil, false, ip)
	owner, _ := newestWinner(netip.MustParseAddr(ip), []string{"node-a", "node-b"})
	other := map[string]string{"node-a": "node-b", "node-b": "node-a"}[owner]
	written := waitSA(t, c, name, ip, owner)

	sa, err := getSA(c, name)
	if err != nil {
		t.Fatal(err)
	}
	sa.Status.Layer2[0].Node, sa.Status.Layer2Nodes = other, other
	if err := c.Status().Update(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	if sa.ResourceVersion == written {
		t.Fatal("the edit changed nothing: the test proves nothing")
	}
	waitSA(t, c, name, ip, owner)
}

// A speaker stops: the speakers taking its Services over write nothing to
// the ServiceAnnouncements that are right and correct those that are not.
// It starts again and takes its Services back: it writes nothing to those
// that are right. Reading each object whole once is all a new writer may
// do besides.
func TestServiceAnnouncementWriterChange(t *testing.T) {
	c := newClient(t, sharedK)
	all := []string{"node-a", "node-b", "node-c"}
	port := freePort(t, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	for i, n := range all {
		readyNode(t, c, n, fmt.Sprintf("127.0.0.%d", i+1), nil)
	}
	create(t, c, pool("takeover", "203.0.113.0/24"), l2adv("takeover"))

	// Services node-c writes: for each next writer, one whose address
	// node-a or node-b answers for (right after node-c stops) and one
	// whose address node-c answers for (wrong after it stops).
	type svc struct{ name, ip, owner, next string }
	right, wrong := map[string]svc{}, map[string]svc{}
	for i := 1; i < 255 && (len(right) < 2 || len(wrong) < 2); i++ {
		s := svc{name: fmt.Sprintf("takeover-%d", i), ip: fmt.Sprintf("203.0.113.%d", i)}
		if servicestatus.Writer("default/"+s.name, all) != "node-c" {
			continue
		}
		s.owner, _ = newestWinner(netip.MustParseAddr(s.ip), all)
		s.next = servicestatus.Writer("default/"+s.name, all[:2])
		if s.owner == "node-c" {
			wrong[s.next] = s
		} else {
			right[s.next] = s
		}
	}
	if len(right) < 2 || len(wrong) < 2 {
		t.Fatalf("no Services of every kind: right %v, wrong %v", right, wrong)
	}
	addr := map[string]string{"node-a": "127.0.0.1", "node-b": "127.0.0.2", "node-c": "127.0.0.3"}
	recorders := map[string]*apiRecorder{}
	speakers := map[string]*testSpeaker{}
	start := func(n string, port int) {
		recorders[n] = &apiRecorder{}
		speakers[n] = startSpeaker(t, recorders[n].config(sharedK), speakerOpts{node: n, addr: addr[n], port: port})
	}
	for _, n := range all {
		start(n, port)
	}
	versions := map[string]string{}
	for _, set := range []map[string]svc{right, wrong} {
		for _, s := range set {
			lbService(t, c, s.name, nil, false, s.ip)
		}
	}
	for _, set := range []map[string]svc{right, wrong} {
		for _, s := range set {
			versions[s.name] = waitSA(t, c, s.name, s.ip, s.owner)
		}
	}

	// node-c stops.
	marks := map[string]int{"node-a": recorders["node-a"].len(), "node-b": recorders["node-b"].len()}
	speakers["node-c"].stop()
	delete(recorders, "node-c")
	for _, s := range wrong {
		owner, _ := newestWinner(netip.MustParseAddr(s.ip), all[:2])
		waitSA(t, c, s.name, s.ip, owner)
	}
	time.Sleep(2 * time.Second) // room for writes that should not come
	for next, s := range right {
		sa, err := getSA(c, s.name)
		if err != nil {
			t.Fatal(err)
		}
		if sa.ResourceVersion != versions[s.name] {
			t.Errorf("%s's ServiceAnnouncement, right already, was rewritten when %s took it over", s.name, next)
		}
	}
	checkRequests(t, recorders, marks, []string{right["node-a"].name, right["node-b"].name})

	// node-c starts again, with no record of its writes, and takes its
	// Services back: those right already are left alone, the others
	// (whose address it answers for again) rewritten.
	start("node-c", port)
	for _, s := range wrong {
		waitSA(t, c, s.name, s.ip, "node-c")
	}
	time.Sleep(2 * time.Second)
	for _, s := range right {
		sa, err := getSA(c, s.name)
		if err != nil {
			t.Fatal(err)
		}
		if sa.ResourceVersion != versions[s.name] {
			t.Errorf("%s's ServiceAnnouncement, right already, was rewritten when node-c restarted", s.name)
		}
	}
	checkRequests(t, map[string]*apiRecorder{"node-c": recorders["node-c"]}, nil,
		[]string{right["node-a"].name, right["node-b"].name})
}

// checkRequests fails if the speaker of a recorder, after its first marks
// requests (0 when not marked), wrote anything to the objects of names
// (or created any), or read one whole more than once.
func checkRequests(t *testing.T, recorders map[string]*apiRecorder, marks map[string]int, names []string) {
	t.Helper()
	for node, r := range recorders {
		reqs := r.since(marks[node])
		for _, name := range names {
			writes, reads := writesAndReads(reqs, name)
			if writes != 0 {
				t.Errorf("%s made %d writes with %s's ServiceAnnouncement right already: %+v", node, writes, name, reqs)
			}
			if reads > 1 {
				t.Errorf("%s read %s's ServiceAnnouncement whole %d times", node, name, reads)
			}
		}
	}
}

// The speakers watch ServiceAnnouncements as metadata only, which the API
// server sends as protobuf: no speaker decodes every object whole (each is
// written by one speaker only). A typed informer, started by a cache read
// of the objects, would list and watch them as JSON.
func TestServiceAnnouncementsWatchedAsMetadata(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	create(t, c, pool("metadata", "198.51.100.16/28"), l2adv("metadata"))
	var rec apiRecorder
	startSpeaker(t, rec.config(sharedK), speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	const name, ip = "metadata-web", "198.51.100.17"
	lbService(t, c, name, nil, false, ip)
	waitSA(t, c, name, ip, "node-a")
	// A deletion wakes the writer, which reads the cache again.
	sa, err := getSA(c, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	waitSA(t, c, name, ip, "node-a")

	var lists, watches int
	for _, q := range rec.since(0) {
		if q.method != http.MethodGet || q.name != "" {
			continue
		}
		if q.watch {
			watches++
		} else {
			lists++
		}
		if !strings.Contains(q.accept, "as=PartialObjectMetadata") {
			t.Errorf("ServiceAnnouncements listed or watched whole (Accept %q)", q.accept)
		}
		if mt := strings.Split(q.contentType, ";")[0]; mt != "application/vnd.kubernetes.protobuf" {
			t.Errorf("ServiceAnnouncements listed or watched as %q, want protobuf", q.contentType)
		}
	}
	// The informer may stream its initial list in its watch.
	if watches == 0 {
		t.Errorf("%d lists and no watch of ServiceAnnouncements, want the informer's", lists)
	}
}
