package webhook

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// The certificate writer mirrors the Secret's tls.crt and tls.key into the
// webhook server's directory, skips a Secret not issued yet, and rewrites
// the files when the rotator renews them.
func TestCertWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "serving-certs")
	w := &certWriter{dir: dir, log: logr.Discard()}
	secret := func(cert, key string) *corev1.Secret {
		return &corev1.Secret{Data: map[string][]byte{
			corev1.TLSCertKey: []byte(cert), corev1.TLSPrivateKeyKey: []byte(key), "ca.crt": []byte("ca"),
		}}
	}
	read := func() map[string]string {
		out := map[string]string{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = string(data)
		}
		return out
	}
	steps := []struct {
		name   string
		secret *corev1.Secret
		want   map[string]string
	}{
		{"empty Secret from the chart", &corev1.Secret{}, map[string]string{}},
		{"first certificate", secret("cert-1", "key-1"), map[string]string{"tls.crt": "cert-1", "tls.key": "key-1"}},
		{"same again", secret("cert-1", "key-1"), map[string]string{"tls.crt": "cert-1", "tls.key": "key-1"}},
		{"renewed", secret("cert-2", "key-2"), map[string]string{"tls.crt": "cert-2", "tls.key": "key-2"}},
	}
	for _, s := range steps {
		w.write(s.secret)
		if diff := cmp.Diff(s.want, read()); diff != "" {
			t.Errorf("%s: files (-want +got):\n%s", s.name, diff)
		}
	}
}
