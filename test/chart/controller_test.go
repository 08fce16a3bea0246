package chart

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// The controller, from its image, with the chart's arguments and nothing
// but the chart's ServiceAccount token, does its whole job: it wins the
// leader Lease, assigns a Service an address from a pool, reports the pool's
// usage, and serves webhooks with a certificate it made. Its log shows no
// request the RBAC refused.
func TestControllerWithChartServiceAccount(t *testing.T) {
	p := runningController(t)
	s := installed(t)
	ctx := context.Background()

	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: "chart-e2e"},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/28"}},
	}
	if err := s.admin.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.admin.Delete(ctx, pool) })
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "chart-e2e-"}}
	if err := s.admin.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if err := s.admin.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.admin.Delete(ctx, svc) })

	eventually(t, "the Service gets an address of the pool", func() error {
		if err := s.admin.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
			return err
		}
		ing := svc.Status.LoadBalancer.Ingress
		if len(ing) != 1 {
			return fmt.Errorf("status.loadBalancer.ingress = %+v", ing)
		}
		ip, err := netip.ParseAddr(ing[0].IP)
		if err != nil || !netip.MustParsePrefix("203.0.113.0/28").Contains(ip) {
			return fmt.Errorf("ingress IP %q is not in 203.0.113.0/28", ing[0].IP)
		}
		return nil
	})
	eventually(t, "the pool's status counts it", func() error {
		if err := s.admin.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
			return err
		}
		if st := pool.Status; st.AssignedIPv4 != 1 || st.AvailableIPv4 != 15 {
			return fmt.Errorf("status assignedIPv4=%d availableIPv4=%d, want 1 and 15", st.AssignedIPv4, st.AvailableIPv4)
		}
		return nil
	})

	var lease coordinationv1.Lease
	if err := s.admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "ironlb-controller"}, &lease); err != nil {
		t.Errorf("leader-election Lease: %v", err)
	}

	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := s.admin.Get(ctx, client.ObjectKey{Name: "ironlb-validating-webhook-configuration"}, &vwc); err != nil {
		t.Fatal(err)
	}
	for _, w := range vwc.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			t.Errorf("webhook %s has no caBundle", w.Name)
		}
	}

	if log := p.log(t); strings.Contains(strings.ToLower(log), "forbidden") {
		t.Errorf("the controller was refused a request; its RBAC is short:\n%s", grep(log, "forbidden"))
	}
}

func grep(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(strings.ToLower(l), word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// What the programs do not need, their ServiceAccounts cannot do, each
// checked with the ServiceAccount's own token against the API server.
func TestServiceAccountsAreLeastPrivilege(t *testing.T) {
	s := installed(t)
	ctx := context.Background()
	clients := map[string]client.Client{}
	for _, sa := range []string{"ironlb-controller", "ironlb-speaker"} {
		_, cfg := s.tokenKubeconfig(t, namespace, sa)
		c, err := client.New(rest.CopyConfig(cfg), client.Options{Scheme: scheme})
		if err != nil {
			t.Fatal(err)
		}
		clients[sa] = c
	}
	secret := func(ns, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	tests := []struct {
		name string
		as   string
		do   func(c client.Client) error
	}{
		{"controller cannot delete Secrets", "ironlb-controller", func(c client.Client) error {
			return c.Delete(ctx, secret(namespace, "ironlb-memberlist"))
		}},
		{"controller cannot rewrite the memberlist key", "ironlb-controller", func(c client.Client) error {
			return c.Update(ctx, secret(namespace, "ironlb-memberlist"))
		}},
		{"controller cannot read Secrets elsewhere", "ironlb-controller", func(c client.Client) error {
			return c.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system"))
		}},
		{"controller cannot delete Nodes", "ironlb-controller", func(c client.Client) error {
			return c.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}})
		}},
		{"controller cannot create Pods", "ironlb-controller", func(c client.Client) error {
			return c.Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "intruder"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
			})
		}},
		{"controller cannot delete Services", "ironlb-controller", func(c client.Client) error {
			return c.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
		}},
		{"controller cannot edit another webhook configuration", "ironlb-controller", func(c client.Client) error {
			return c.Update(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "someone-else"}})
		}},
		{"controller cannot delete pools", "ironlb-controller", func(c client.Client) error {
			return c.Delete(ctx, &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: "chart-e2e"}})
		}},
		{"speaker cannot write Service status", "ironlb-speaker", func(c client.Client) error {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}}
			return c.Status().Patch(ctx, svc, client.RawPatch("application/merge-patch+json", []byte(`{"status":{}}`)))
		}},
		{"speaker cannot read Secrets one by one", "ironlb-speaker", func(c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "ironlb-webhook-cert"}, &corev1.Secret{})
		}},
		{"speaker cannot list Secrets elsewhere", "ironlb-speaker", func(c client.Client) error {
			return c.List(ctx, &corev1.SecretList{}, client.InNamespace("default"))
		}},
		{"speaker cannot change pools", "ironlb-speaker", func(c client.Client) error {
			return c.Create(ctx, &v1beta1.IPAddressPool{
				ObjectMeta: metav1.ObjectMeta{Name: "speaker-made"},
				Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"198.51.100.200/30"}},
			})
		}},
		{"speaker cannot update Nodes", "ironlb-speaker", func(c client.Client) error {
			return c.Update(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do(clients[tt.as])
			if !apierrors.IsForbidden(err) {
				t.Errorf("got %v, want Forbidden", err)
			}
		})
	}

	// And what they need, they can: a few reads each program starts with.
	allowed := []struct {
		as string
		do func(c client.Client) error
	}{
		{"ironlb-controller", func(c client.Client) error { return c.List(ctx, &v1beta1.IPAddressPoolList{}) }},
		{"ironlb-controller", func(c client.Client) error { return c.List(ctx, &corev1.ServiceList{}) }},
		{"ironlb-speaker", func(c client.Client) error { return c.List(ctx, &v1beta1.BGPPeerList{}) }},
		{"ironlb-speaker", func(c client.Client) error { return c.List(ctx, &corev1.SecretList{}, client.InNamespace(namespace)) }},
	}
	for _, a := range allowed {
		if err := a.do(clients[a.as]); err != nil {
			t.Errorf("%s: a read it needs failed: %v", a.as, err)
		}
	}
}
