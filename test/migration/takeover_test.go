//go:build envtest

package migration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// The annotations MetalLB leaves on the Services it served: the current
// name of the pool annotation, and the older metallb.universe.tf/ one that
// clusters upgraded from earlier MetalLB releases still carry.
const (
	metallbPoolAnnotation       = "metallb.io/ip-allocated-from-pool"
	metallbLegacyPoolAnnotation = "metallb.universe.tf/ip-allocated-from-pool"
)

// served is a Service as MetalLB left it, and the pool its addresses are from.
type served struct {
	svc  *corev1.Service
	ips  []string
	pool string
}

// TestTakeover runs docs/migration.md on a cluster MetalLB served: a
// single-stack Service, a dual-stack one, two Services sharing an address,
// and one that asked for its address in spec.loadBalancerIP from a pool
// without automatic assignment. Every Service keeps its addresses and gets
// ironlb.io/IPAllocated=True, and the pools count them.
func TestTakeover(t *testing.T) {
	ctx := context.Background()
	createMetalLBConfig(t, filepath.Join("testdata", "metallb-config.yaml"))
	services := createServedServices(t)

	// Step 1: preview the migration. The report names what does not carry
	// over and predicts that no Service's address changes.
	preview, report := plugin(t, "migrate", "--from-cluster")
	t.Logf("migration report:\n%s", report)
	wantObjects := []string{
		"Secret/tor-bgp-password", "IPAddressPool/lan", "IPAddressPool/reserved",
		"BFDProfile/fast", "BGPPeer/tor", "L2Advertisement/lan", "BGPAdvertisement/edge",
	}
	if diff := cmp.Diff(wantObjects, kindsAndNames(t, preview)); diff != "" {
		t.Errorf("migrate output (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		`Community metallb-system/aliases: spec.communities[0] = "no-export": changed: IronLB refuses the alias name: is a well-known community name`,
		`BGPAdvertisement metallb-system/edge: spec.communities[0] = "no-export": changed: written as its value 65535:65281`,
		`BGPPeer metallb-system/tor: spec.password = "(hidden)": changed: moved to Secret ironlb-system-bgp-secrets/tor-bgp-password`,
		"needing action",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(report, "Service ") || !strings.Contains(report, ", 0 needing action") {
		t.Errorf("the report predicts a change to a Service, or asks for an action:\n%s", report)
	}

	// Step 2: install IronLB's CRDs, and the namespace of BGP passwords.
	if _, err := envtest.InstallCRDs(restConfig, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join("..", "..", "config", "crd")}, ErrorIfPathMissing: true,
	}); err != nil {
		t.Fatalf("installing IronLB's CRDs: %v", err)
	}
	createNamespace(t, "ironlb-system-bgp-secrets")

	// Step 3: apply the migrated configuration.
	applied, _ := plugin(t, "migrate", "--from-cluster", "--apply")
	wantApplied := "secret/tor-bgp-password serverside-applied\n" +
		"ipaddresspool.ironlb.io/lan serverside-applied\n" +
		"ipaddresspool.ironlb.io/reserved serverside-applied\n" +
		"bfdprofile.ironlb.io/fast serverside-applied\n" +
		"bgppeer.ironlb.io/tor serverside-applied\n" +
		"l2advertisement.ironlb.io/lan serverside-applied\n" +
		"bgpadvertisement.ironlb.io/edge serverside-applied\n"
	if diff := cmp.Diff(wantApplied, applied); diff != "" {
		t.Errorf("migrate --apply output (-want +got):\n%s", diff)
	}
	checkApplied(t)

	// Step 4 (stop MetalLB's controller and speakers) has nothing to stop
	// here. Step 5: start IronLB.
	startController(t)

	// Step 6: check. Every Service keeps its addresses and gets the
	// condition; the pool annotation names the pool MetalLB's did.
	for _, s := range services {
		key := client.ObjectKeyFromObject(s.svc)
		eventually(t, fmt.Sprintf("%s: %s=True", key, v1beta1.ConditionIPAllocated), func() error {
			var got corev1.Service
			if err := k8s.Get(ctx, key, &got); err != nil {
				return err
			}
			c := meta.FindStatusCondition(got.Status.Conditions, v1beta1.ConditionIPAllocated)
			if c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("condition %+v", c)
			}
			if ips := ingressIPs(&got); !slices.Equal(ips, s.ips) {
				t.Fatalf("%s: addresses changed from %v to %v", key, s.ips, ips)
			}
			if p := got.Annotations[v1beta1.AnnotationAllocatedFromPool]; p != s.pool {
				return fmt.Errorf("annotation %s = %q, want %q", v1beta1.AnnotationAllocatedFromPool, p, s.pool)
			}
			return nil
		})
	}
	checkPoolUsage(t, "lan", usage{assignedIPv4: 3, availableIPv4: 13, assignedIPv6: 1, availableIPv6: "18446744073709551615"})
	checkPoolUsage(t, "reserved", usage{assignedIPv4: 1, availableIPv4: 15, availableIPv6: "0"})

	// kubectl ironlb status tells the same.
	checkStatus(t, services)

	// Nothing moved meanwhile.
	for _, s := range services {
		var got corev1.Service
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(s.svc), &got); err != nil {
			t.Fatal(err)
		}
		if ips := ingressIPs(&got); !slices.Equal(ips, s.ips) {
			t.Errorf("%s/%s: addresses changed from %v to %v", got.Namespace, got.Name, s.ips, ips)
		}
	}
}

// createMetalLBConfig creates the MetalLB objects of a YAML file.
func createMetalLBConfig(t *testing.T, path string) {
	t.Helper()
	createNamespace(t, "metallb-system")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			break
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if err := k8s.Create(context.Background(), u); err != nil {
			t.Fatalf("creating MetalLB %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// createServedServices creates the Services MetalLB served, with the
// addresses it wrote in their status and the annotations it left.
func createServedServices(t *testing.T) []served {
	t.Helper()
	createNamespace(t, "shop")
	createNamespace(t, "legacy")
	svc := func(ns, name string, port int32, annotations map[string]string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeLoadBalancer,
				Selector: map[string]string{"app": name},
				Ports:    []corev1.ServicePort{{Name: "p", Protocol: corev1.ProtocolTCP, Port: port}},
			},
		}
	}
	web := svc("shop", "web", 80, map[string]string{metallbPoolAnnotation: "lan"})
	dual := svc("shop", "dual", 80, map[string]string{metallbPoolAnnotation: "lan"})
	dual.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
	dual.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	shared := map[string]string{"metallb.universe.tf/allow-shared-ip": "shop-front", metallbLegacyPoolAnnotation: "lan"}
	shareHTTP := svc("shop", "share-http", 80, shared)
	shareHTTPS := svc("shop", "share-https", 443, shared)
	pinned := svc("legacy", "pinned", 80, map[string]string{
		"metallb.universe.tf/address-pool": "reserved", metallbLegacyPoolAnnotation: "reserved",
	})
	pinned.Spec.LoadBalancerIP = "198.51.100.5"

	out := []served{
		{web, []string{"192.0.2.1"}, "lan"},
		{dual, []string{"192.0.2.2", "2001:db8:1::2"}, "lan"},
		{shareHTTP, []string{"192.0.2.3"}, "lan"},
		{shareHTTPS, []string{"192.0.2.3"}, "lan"},
		{pinned, []string{"198.51.100.5"}, "reserved"},
	}
	ctx := context.Background()
	for _, s := range out {
		if err := k8s.Create(ctx, s.svc); err != nil {
			t.Fatalf("creating Service %s/%s: %v", s.svc.Namespace, s.svc.Name, err)
		}
		for _, ip := range s.ips {
			s.svc.Status.LoadBalancer.Ingress = append(s.svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
		if err := k8s.Status().Update(ctx, s.svc); err != nil {
			t.Fatalf("writing the status of Service %s/%s: %v", s.svc.Namespace, s.svc.Name, err)
		}
	}
	return out
}

// kindsAndNames lists the "Kind/name" of the YAML documents of out.
func kindsAndNames(t *testing.T, out string) []string {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var got []string
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		got = append(got, u.GetKind()+"/"+u.GetName())
	}
	return got
}

// checkApplied checks what --apply wrote: the converted objects, owned by
// kubectl-ironlb's field manager.
func checkApplied(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var adv v1beta1.BGPAdvertisement
	if err := k8s.Get(ctx, client.ObjectKey{Name: "edge"}, &adv); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"65535:65281"}, adv.Spec.Communities); diff != "" {
		t.Errorf("BGPAdvertisement edge communities (-want +got):\n%s", diff)
	}
	var peer v1beta1.BGPPeer
	if err := k8s.Get(ctx, client.ObjectKey{Name: "tor"}, &peer); err != nil {
		t.Fatal(err)
	}
	wantRef := &v1beta1.SecretKeyRef{Name: "tor-bgp-password", Namespace: "ironlb-system-bgp-secrets", Key: "password"}
	if diff := cmp.Diff(wantRef, peer.Spec.PasswordSecret); diff != "" {
		t.Errorf("BGPPeer tor password (-want +got):\n%s", diff)
	}
	var secret corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: wantRef.Namespace, Name: wantRef.Name}, &secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["password"]) != "s3cret" {
		t.Errorf("password Secret holds %q", secret.Data["password"])
	}
	var pool v1beta1.IPAddressPool
	if err := k8s.Get(ctx, client.ObjectKey{Name: "reserved"}, &pool); err != nil {
		t.Fatal(err)
	}
	if pool.AutoAssignEnabled() {
		t.Error("pool reserved hands out addresses automatically; MetalLB's did not")
	}
	if !slices.ContainsFunc(pool.ManagedFields, func(m metav1.ManagedFieldsEntry) bool {
		return m.Manager == "kubectl-ironlb" && m.Operation == metav1.ManagedFieldsOperationApply
	}) {
		t.Errorf("pool reserved is not applied by field manager kubectl-ironlb: %+v", pool.ManagedFields)
	}
}

type usage struct {
	assignedIPv4, availableIPv4, assignedIPv6 int64
	availableIPv6                             string
}

func checkPoolUsage(t *testing.T, name string, want usage) {
	t.Helper()
	eventually(t, "pool "+name+" usage", func() error {
		var p v1beta1.IPAddressPool
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &p); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready condition %+v", c)
		}
		s := p.Status
		got := usage{s.AssignedIPv4, s.AvailableIPv4, s.AssignedIPv6, s.AvailableIPv6}
		if got != want {
			return fmt.Errorf("usage %+v, want %+v", got, want)
		}
		return nil
	})
}

// statusJSON is the part of `kubectl ironlb status -o json` checked here.
type statusJSON struct {
	Pools []struct {
		Name     string   `json:"name"`
		Ready    string   `json:"ready"`
		Services []string `json:"services"`
		IPv4     struct {
			Used int64  `json:"used"`
			Free string `json:"free"`
		} `json:"ipv4"`
	} `json:"pools"`
	Services []struct {
		Namespace string   `json:"namespace"`
		Name      string   `json:"name"`
		IPs       []string `json:"ips"`
		Pool      string   `json:"pool"`
		Allocated string   `json:"allocated"`
	} `json:"services"`
}

func checkStatus(t *testing.T, services []served) {
	t.Helper()
	out, _ := plugin(t, "status", "-o", "json")
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	pools := map[string]string{}
	for _, p := range st.Pools {
		pools[p.Name] = fmt.Sprintf("%s used=%d free=%s services=%v", p.Ready, p.IPv4.Used, p.IPv4.Free, p.Services)
	}
	wantPools := map[string]string{
		"lan":      "True used=3 free=13 services=[shop/dual shop/share-http shop/share-https shop/web]",
		"reserved": "True used=1 free=15 services=[legacy/pinned]",
	}
	if diff := cmp.Diff(wantPools, pools); diff != "" {
		t.Errorf("status pools (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, s := range st.Services {
		got[s.Namespace+"/"+s.Name] = fmt.Sprintf("%s %v %s", s.Pool, s.IPs, s.Allocated)
	}
	want := map[string]string{}
	for _, s := range services {
		want[s.svc.Namespace+"/"+s.svc.Name] = fmt.Sprintf("%s %v True", s.pool, s.ips)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status services (-want +got):\n%s", diff)
	}
	table, _ := plugin(t, "status")
	t.Logf("kubectl ironlb status:\n%s", table)
}

func ingressIPs(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	return out
}
