//go:build envtest

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// A pool edit that still contains a Service's address keeps it there.
func TestPoolEditKeepsIP(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-edit-keep", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	waitAllocated(t, ns, "web")
	before := takeSnapshot(t, ns, "web")

	updatePool(t, "it-edit-keep", func(p *v1beta1.IPAddressPool) {
		p.Spec.Addresses = []string{"198.51.100.0/28", "192.0.2.0/27"}
	})
	eventually(t, "the pool's new size is counted", func() error {
		if got := getPool(t, "it-edit-keep").Status.AvailableIPv4; got != 16+32-1 {
			return fmt.Errorf("availableIPv4 = %d", got)
		}
		return nil
	})
	consistently(t, "the Service keeps its address", func() error {
		return unchangedSince(t, ns, "web", before)
	})
}

// A pool edit that drops a Service's address moves the Service, and the
// event says why.
func TestPoolEditMovesService(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-edit-move", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	old := ingressIPs(waitAllocated(t, ns, "web"))[0]

	updatePool(t, "it-edit-move", func(p *v1beta1.IPAddressPool) {
		p.Spec.Addresses = []string{"198.51.100.0/28"}
	})
	eventually(t, "the Service moves into the pool's new range", func() error {
		svc := getService(t, ns, "web")
		if ips := ingressIPs(svc); !inPrefix(t, "198.51.100.0/28", ips...) {
			return fmt.Errorf("the Service shows %v", ips)
		}
		if c := ipAllocated(svc); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("IPAllocated is %+v", c)
		}
		return nil
	})
	svc := getService(t, ns, "web")
	if got := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; got != "it-edit-move" {
		t.Errorf("pool annotation = %q", got)
	}
	waitEvent(t, ns, "web", corev1.EventTypeNormal, v1beta1.EventIPAllocated, ingressIPs(svc)[0], old, "no longer in any usable pool")
}

// A pool with users is held by its finalizer until they are gone; they keep
// their addresses meanwhile.
func TestPoolDeletionWaitsForServices(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-protect", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	user := createService(t, lbService(ns, "user"))
	waitAllocated(t, ns, "user")
	eventually(t, "the pool gets its finalizer", func() error {
		if !controllerutil.ContainsFinalizer(getPool(t, "it-protect"), v1beta1.PoolProtectionFinalizer) {
			return fmt.Errorf("finalizers: %v", getPool(t, "it-protect").Finalizers)
		}
		return nil
	})
	before := takeSnapshot(t, ns, "user")

	if err := k8s.Delete(context.Background(), getPool(t, "it-protect")); err != nil {
		t.Fatalf("deleting pool: %v", err)
	}
	p := waitPoolReady(t, "it-protect", metav1.ConditionFalse, v1beta1.ReasonPoolDeleting)
	if p.DeletionTimestamp.IsZero() {
		t.Errorf("pool is not being deleted")
	}
	if c := readyOf(p); !strings.Contains(c.Message, "1 Service") {
		t.Errorf("Ready message %q does not say how many Services hold the pool", c.Message)
	}
	// A pool being deleted hands out nothing new.
	createService(t, lbService(ns, "late", fromPool("it-protect")))
	waitFailed(t, ns, "late", v1beta1.ReasonNoMatchingPool)
	consistently(t, "the user keeps its address while the pool waits", func() error {
		if err := unchangedSince(t, ns, "user", before); err != nil {
			return err
		}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: "it-protect"}, &v1beta1.IPAddressPool{}); err != nil {
			return fmt.Errorf("the pool went away while used: %w", err)
		}
		return nil
	})

	deleteAndWait(t, user)
	eventually(t, "the pool goes once unused", func() error {
		err := k8s.Get(context.Background(), client.ObjectKey{Name: "it-protect"}, &v1beta1.IPAddressPool{})
		if err == nil {
			return fmt.Errorf("the pool still exists")
		}
		return client.IgnoreNotFound(err)
	})
}

// An invalid pool is Ready=False with a reason and a message, hands out
// nothing, and breaks no valid pool.
func TestInvalidPoolBesideValidOne(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-valid", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "before"))
	waitAllocated(t, ns, "before")
	before := takeSnapshot(t, ns, "before")

	// Each passes the CRD schema; only the controller can tell.
	tests := []struct {
		pool      string
		addresses []string
		reason    string
		mention   string
	}{
		{"it-bad-cidr", []string{"198.51.100.0/33"}, v1beta1.ReasonInvalidAddress, "198.51.100.0/33"},
		{"it-reversed", []string{"198.51.100.20-198.51.100.10"}, v1beta1.ReasonInvalidAddress, "198.51.100.20-198.51.100.10"},
		{"it-mixed", []string{"198.51.100.30-2001:db8::1"}, v1beta1.ReasonInvalidAddress, "198.51.100.30-2001:db8::1"},
		// Created after it-valid, so it is the one that loses.
		{"it-overlap", []string{"203.0.113.0/28", "192.0.2.8/29"}, v1beta1.ReasonOverlap, "it-valid"},
	}
	for _, tc := range tests {
		createPool(t, tc.pool, tc.addresses)
	}
	for _, tc := range tests {
		p := waitPoolReady(t, tc.pool, metav1.ConditionFalse, tc.reason)
		if c := readyOf(p); !strings.Contains(c.Message, tc.mention) {
			t.Errorf("pool %s: Ready message %q does not mention %q", tc.pool, c.Message, tc.mention)
		}
	}
	waitPoolReady(t, "it-valid", metav1.ConditionTrue, v1beta1.ReasonPoolValid)

	// The valid pool keeps working; the invalid ones hand out nothing.
	createService(t, lbService(ns, "after"))
	if ips := ingressIPs(waitAllocated(t, ns, "after")); !inPrefix(t, "192.0.2.0/28", ips...) {
		t.Errorf("after got %v, want an address of it-valid", ips)
	}
	createService(t, lbService(ns, "from-invalid", wantIPs("203.0.113.5")))
	waitFailed(t, ns, "from-invalid", v1beta1.ReasonIPUnavailable)
	if err := unchangedSince(t, ns, "before", before); err != nil {
		t.Error(err)
	}

	// Fixing a pool makes it usable.
	updatePool(t, "it-reversed", func(p *v1beta1.IPAddressPool) {
		p.Spec.Addresses = []string{"198.51.100.10-198.51.100.20"}
	})
	waitPoolReady(t, "it-reversed", metav1.ConditionTrue, v1beta1.ReasonPoolValid)
	createService(t, lbService(ns, "fixed", fromPool("it-reversed")))
	if ips := ingressIPs(waitAllocated(t, ns, "fixed")); !inPrefix(t, "198.51.100.0/27", ips...) {
		t.Errorf("fixed got %v, want an address of it-reversed", ips)
	}
}

// Pool status counts each family exactly, IPv6 as a decimal string.
func TestPoolStatusCounts(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-counts", []string{"192.0.2.0/28", "2001:db8:1::/64"})
	createPool(t, "it-counts-buggy", []string{"203.0.113.0/24"}, avoidBuggyIPs(), manualAssign())
	ns := newNamespace(t)

	type counts struct {
		AssignedIPv4, AvailableIPv4, AssignedIPv6 int64
		AvailableIPv6                             string
	}
	waitCounts := func(pool string, want counts) {
		t.Helper()
		eventually(t, "pool "+pool+" counts", func() error {
			st := getPool(t, pool).Status
			got := counts{st.AssignedIPv4, st.AvailableIPv4, st.AssignedIPv6, st.AvailableIPv6}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("(-want +got):\n%s", diff)
			}
			return nil
		})
	}
	waitCounts("it-counts", counts{0, 16, 0, "18446744073709551616"})
	waitCounts("it-counts-buggy", counts{0, 254, 0, "0"})

	createService(t, lbService(ns, "v4"))
	createService(t, lbService(ns, "v6", families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)))
	createService(t, lbService(ns, "dual", requireDualStack()))
	createService(t, lbService(ns, "buggy", fromPool("it-counts-buggy")))
	for _, name := range []string{"v4", "v6", "dual", "buggy"} {
		waitAllocated(t, ns, name)
	}
	waitCounts("it-counts", counts{2, 14, 2, "18446744073709551614"})
	waitCounts("it-counts-buggy", counts{1, 253, 0, "0"})
	waitPoolReady(t, "it-counts", metav1.ConditionTrue, v1beta1.ReasonPoolValid)
}

// `kubectl get ipp` shows addresses, auto-assign, counts and readiness.
func TestPoolPrinterColumns(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-columns", []string{"192.0.2.0/28", "2001:db8:1::/64"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	waitAllocated(t, ns, "web")
	waitPoolReady(t, "it-columns", metav1.ConditionTrue, v1beta1.ReasonPoolValid)

	var crd apiextensionsv1.CustomResourceDefinition
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: "ipaddresspools.ironlb.io"}, &crd); err != nil {
		t.Fatalf("reading CRD: %v", err)
	}
	if !slices.Contains(crd.Spec.Names.ShortNames, "ipp") {
		t.Errorf("short names %v lack ipp", crd.Spec.Names.ShortNames)
	}
	if crd.Spec.Scope != apiextensionsv1.ClusterScoped {
		t.Errorf("scope %s, want Cluster", crd.Spec.Scope)
	}

	// The table the API server renders for kubectl get.
	want := map[string]any{
		"Name":           "it-columns",
		"Addresses":      `["192.0.2.0/28","2001:db8:1::/64"]`,
		"Auto Assign":    true,
		"Assigned IPv4":  float64(1),
		"Available IPv4": float64(15),
		"Assigned IPv6":  float64(0),
		"Available IPv6": "18446744073709551616",
		"Ready":          "True",
	}
	eventually(t, "kubectl get ipp columns", func() error {
		row, err := tableRow("it-columns")
		if err != nil {
			return err
		}
		got := map[string]any{}
		for k := range want {
			got[k] = row[k]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("table row (-want +got):\n%s", diff)
		}
		return nil
	})
}

// tableRow fetches the pool the way kubectl get does (as a server-side
// Table) and returns its cells by column name.
func tableRow(pool string) (map[string]any, error) {
	httpClient, err := rest.HTTPClientFor(restConfig)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(restConfig.Host, "/")+"/apis/ironlb.io/v1beta1/ipaddresspools/"+pool, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", req.URL, resp.Status, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		return nil, err
	}
	if len(table.Rows) != 1 {
		return nil, fmt.Errorf("table has %d rows", len(table.Rows))
	}
	out := map[string]any{}
	for i, col := range table.ColumnDefinitions {
		if i < len(table.Rows[0].Cells) {
			out[col.Name] = table.Rows[0].Cells[i]
		}
	}
	return out, nil
}

func readyOf(p *v1beta1.IPAddressPool) metav1.Condition {
	for _, c := range p.Status.Conditions {
		if c.Type == v1beta1.ConditionReady {
			return c
		}
	}
	return metav1.Condition{}
}

// autoAssign only governs new automatic assignments: turning it off keeps
// the addresses Services already hold (the pool still contains them).
func TestPoolEditAutoAssignOffKeepsIP(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-edit-auto", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	waitAllocated(t, ns, "web")
	before := takeSnapshot(t, ns, "web")

	updatePool(t, "it-edit-auto", func(p *v1beta1.IPAddressPool) { p.Spec.AutoAssign = ptr.To(false) })
	consistently(t, "the Service keeps its address and condition", func() error {
		return unchangedSince(t, ns, "web", before)
	})
	// New Services no longer draw from it.
	createService(t, lbService(ns, "late"))
	waitFailed(t, ns, "late", v1beta1.ReasonNoMatchingPool)
}

// A pool that overlaps one already in use is the one marked invalid, even
// when both were created within the same second (creation timestamps have
// one-second resolution, so only the names would order them).
func TestOverlapNeverEvictsAPoolInUse(t *testing.T) {
	_, restart := restartableController(t, defaultOptions())
	// Start at a second boundary, so that both pools most likely share a
	// creation timestamp; "it-z-first" sorts after "it-a-second" by name.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	createPool(t, "it-z-first", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	waitAllocated(t, ns, "web")
	waitPoolReady(t, "it-z-first", metav1.ConditionTrue, v1beta1.ReasonPoolValid)
	before := takeSnapshot(t, ns, "web")

	createPool(t, "it-a-second", []string{"192.0.2.0/29"})
	p := waitPoolReady(t, "it-a-second", metav1.ConditionFalse, v1beta1.ReasonOverlap)
	if !p.CreationTimestamp.Equal(&getPool(t, "it-z-first").CreationTimestamp) {
		t.Log("the pools got different creation timestamps; the tie this test is about did not happen")
	}
	stable := func() error {
		if c := readyOf(getPool(t, "it-z-first")); c.Status != metav1.ConditionTrue {
			return fmt.Errorf("it-z-first Ready is %+v", c)
		}
		return unchangedSince(t, ns, "web", before)
	}
	consistently(t, "the pool in use stays valid and its Service keeps its address", stable)

	// A new controller, knowing only what the API server stores, reaches
	// the same verdict.
	reconciled := reconcileTotal(t, "ipaddresspool")
	restart()
	eventually(t, "the new controller looks at both pools", func() error {
		if got := reconcileTotal(t, "ipaddresspool") - reconciled; got < 2 {
			return fmt.Errorf("%v pool reconciles since the restart", got)
		}
		return nil
	})
	consistently(t, "after a restart too", stable)
}

// A bad edit of a pool in use loses nothing: the pool turns Ready=False and
// hands out nothing new, but its Services keep their addresses from the
// last valid spec, and fixing the pool makes it hand out addresses again.
func TestBrokenEditOfPoolInUseKeepsAddresses(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-edited", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "user"))
	waitAllocated(t, ns, "user")
	before := takeSnapshot(t, ns, "user")

	updatePool(t, "it-edited", func(p *v1beta1.IPAddressPool) { p.Spec.Addresses = []string{"192.0.2.0/33"} })
	p := waitPoolReady(t, "it-edited", metav1.ConditionFalse, v1beta1.ReasonInvalidAddress)
	if c := readyOf(p); !strings.Contains(c.Message, "192.0.2.0/33") || !strings.Contains(c.Message, "keep the addresses") {
		t.Errorf("Ready message %q should name the bad entry and say addresses are kept", c.Message)
	}
	createService(t, lbService(ns, "newcomer"))
	waitFailed(t, ns, "newcomer", v1beta1.ReasonNoMatchingPool)
	if err := unchangedSince(t, ns, "user", before); err != nil {
		t.Error(err)
	}

	updatePool(t, "it-edited", func(p *v1beta1.IPAddressPool) { p.Spec.Addresses = []string{"192.0.2.0/28"} })
	waitPoolReady(t, "it-edited", metav1.ConditionTrue, v1beta1.ReasonPoolValid)
	waitAllocated(t, ns, "newcomer")
	if err := unchangedSince(t, ns, "user", before); err != nil {
		t.Error(err)
	}
}

// A pool in use whose spec becomes invalid (no webhook stops the edit here)
// keeps its Services' addresses across controller restarts and leader
// hand-overs too, whether the edit came while the controller ran or while
// none did, even with its last valid spec recorded nowhere, and hands out
// nothing new until it is valid again. Another
// pool with room is there to take the Services, should a new controller
// not know the pool's last valid spec.
func TestBrokenPoolInUseKeepsAddressesAcrossRestarts(t *testing.T) {
	stop, start := restartableController(t, defaultOptions())
	createPool(t, "it-kept", []string{"192.0.2.0/28"})
	// Tried after it-kept (by name): only a Service that lost it-kept moves here.
	createPool(t, "it-spare", []string{"198.51.100.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "auto"))
	createService(t, lbService(ns, "named", fromPool("it-kept")))
	for _, name := range []string{"auto", "named"} {
		if ips := ingressIPs(waitAllocated(t, ns, name)); !inPrefix(t, "192.0.2.0/28", ips...) {
			t.Fatalf("%s got %v, want an address of it-kept", name, ips)
		}
	}
	waitPoolReady(t, "it-kept", metav1.ConditionTrue, v1beta1.ReasonPoolValid)
	before := map[string]snapshot{"auto": takeSnapshot(t, ns, "auto"), "named": takeSnapshot(t, ns, "named")}
	kept := func() error {
		for name, s := range before {
			if err := unchangedSince(t, ns, name, s); err != nil {
				return err
			}
		}
		return nil
	}
	// restarted starts a new controller and waits until it has looked at
	// both Services (a Service it failed to restore is moved on its first
	// reconcile) before the caller checks that nothing changed.
	restarted := func() {
		t.Helper()
		reconciled := reconcileTotal(t, "service")
		start()
		eventually(t, "the new controller reconciles both Services", func() error {
			if got := reconcileTotal(t, "service") - reconciled; got < 2 {
				return fmt.Errorf("%v Service reconciles since the start", got)
			}
			return nil
		})
	}

	// Broken while the controller runs, then a restart.
	updatePool(t, "it-kept", func(p *v1beta1.IPAddressPool) { p.Spec.Addresses = []string{"192.0.2.0/33"} })
	waitPoolReady(t, "it-kept", metav1.ConditionFalse, v1beta1.ReasonInvalidAddress)
	restarted()
	consistently(t, "after a restart the Services keep their addresses", kept)
	p := waitPoolReady(t, "it-kept", metav1.ConditionFalse, v1beta1.ReasonInvalidAddress)
	if c := readyOf(p); !strings.Contains(c.Message, "192.0.2.0/33") || !strings.Contains(c.Message, "keep the addresses") {
		t.Errorf("Ready message %q should name the bad entry and say addresses are kept", c.Message)
	}

	// Broken differently while no controller runs, then a new one starts.
	stop()
	updatePool(t, "it-kept", func(p *v1beta1.IPAddressPool) { p.Spec.Addresses = []string{"192.0.2.16-192.0.2.0"} })
	restarted()
	consistently(t, "after an edit while down the Services keep their addresses", kept)
	eventually(t, "the Ready message names the new bad entry and says addresses are kept", func() error {
		c := readyOf(getPool(t, "it-kept"))
		if c.Reason != v1beta1.ReasonInvalidAddress || !strings.Contains(c.Message, "192.0.2.16-192.0.2.0") || !strings.Contains(c.Message, "keep the addresses") {
			return fmt.Errorf("Ready is %s/%s: %s", c.Status, c.Reason, c.Message)
		}
		return nil
	})
	if got := getPool(t, "it-kept").Status.LastValidSpec; got == nil || !slices.Equal(got.Addresses, []string{"192.0.2.0/28"}) {
		t.Errorf("status.lastValidSpec = %+v, want the addresses 192.0.2.0/28", got)
	}

	// With no valid spec recorded (a pool from before it was recorded), a
	// new controller still keeps what the pool's Services show.
	stop()
	eventually(t, "forgetting the recorded spec", func() error {
		p := getPool(t, "it-kept")
		p.Status.LastValidSpec = nil
		return k8s.Status().Update(ctx(), p)
	})
	restarted()
	consistently(t, "with nothing recorded the Services keep their addresses", kept)

	// The broken pool hands out nothing new.
	createService(t, lbService(ns, "newcomer", fromPool("it-kept")))
	waitFailed(t, ns, "newcomer", v1beta1.ReasonNoMatchingPool)
	if err := kept(); err != nil {
		t.Error(err)
	}

	// Fixed, it hands out addresses again, and its Services still have theirs.
	updatePool(t, "it-kept", func(p *v1beta1.IPAddressPool) { p.Spec.Addresses = []string{"192.0.2.0/28"} })
	waitPoolReady(t, "it-kept", metav1.ConditionTrue, v1beta1.ReasonPoolValid)
	if ips := ingressIPs(waitAllocated(t, ns, "newcomer")); !inPrefix(t, "192.0.2.0/28", ips...) {
		t.Errorf("newcomer got %v, want an address of it-kept", ips)
	}
	if err := kept(); err != nil {
		t.Error(err)
	}
}

// Pool entries touching addresses no Service can use pass the CRD schema;
// the controller refuses their pools (Ready=False, InvalidAddress, the
// message naming the entry), uses nothing of them, and every other pool
// keeps working. Each pool's first entry is fine, so the message must name
// the second.
func TestSpecialAddressPoolsAreRefused(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-plain", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "before"))
	waitAllocated(t, ns, "before")
	before := takeSnapshot(t, ns, "before")

	tests := []struct{ pool, entry, mention string }{
		{"it-mapped", "::fffe:ffff:ffff-::1:0:0:0", "IPv4-mapped"},
		{"it-loopback", "127.0.0.0/30", "loopback"},
		{"it-link-local", "fe80::/64", "link-local"},
		{"it-multicast", "224.0.0.0/28", "multicast"},
		{"it-unspecified", "0.0.0.0/32", "unspecified"},
		{"it-broadcast", "255.255.255.0-255.255.255.255", "broadcast"},
	}
	for i, tc := range tests {
		createPool(t, tc.pool, []string{fmt.Sprintf("2001:db8:9:%x::/64", i), tc.entry})
	}
	for _, tc := range tests {
		p := waitPoolReady(t, tc.pool, metav1.ConditionFalse, v1beta1.ReasonInvalidAddress)
		want := fmt.Sprintf("spec.addresses[1]: Invalid value: %q: includes ", tc.entry)
		if c := readyOf(p); !strings.Contains(c.Message, want) || !strings.Contains(c.Message, tc.mention) {
			t.Errorf("pool %s: Ready message %q should contain %q and %q", tc.pool, c.Message, want, tc.mention)
		}
	}
	waitPoolReady(t, "it-plain", metav1.ConditionTrue, v1beta1.ReasonPoolValid)

	// The refused pools hand out nothing, not even their good entries.
	createService(t, lbService(ns, "named", fromPool("it-mapped")))
	waitFailed(t, ns, "named", v1beta1.ReasonNoMatchingPool)
	createService(t, lbService(ns, "v6", families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)))
	waitFailed(t, ns, "v6", v1beta1.ReasonNoMatchingPool)
	// The valid pool keeps working.
	createService(t, lbService(ns, "after"))
	if ips := ingressIPs(waitAllocated(t, ns, "after")); !inPrefix(t, "192.0.2.0/28", ips...) {
		t.Errorf("after got %v, want an address of it-plain", ips)
	}
	if err := unchangedSince(t, ns, "before", before); err != nil {
		t.Error(err)
	}
}
