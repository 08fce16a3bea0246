//go:build lab

package chart

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
)

var (
	imagesOnce sync.Once
	imagesDir  string
	imagesErr  error
)

// imageArchives is the directory holding ironlb-controller.tar and
// ironlb-speaker.tar: $IRONLB_IMAGES when set (make test points it at the
// dist/ that make images wrote), else a fresh `go run ./hack/images` build.
func imageArchives(t testing.TB) string {
	t.Helper()
	imagesOnce.Do(func() {
		if d := os.Getenv("IRONLB_IMAGES"); d != "" {
			imagesDir = d
			return
		}
		if imagesDir, imagesErr = os.MkdirTemp("", "ironlb-images-"); imagesErr != nil {
			return
		}
		cmd := exec.Command("go", "run", "./hack/images", "-out", imagesDir)
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			imagesErr = fmt.Errorf("go run ./hack/images: %w\n%s", err, out)
		}
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
	return imagesDir
}

// readImage opens one archive the way `docker load` / `kind load
// image-archive` does: through manifest.json and the tag in it.
func readImage(t testing.TB, program string) (v1.Image, []string) {
	t.Helper()
	path := filepath.Join(imageArchives(t), program+".tar")
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(manifest) != 1 || len(manifest[0].RepoTags) != 1 {
		t.Fatalf("%s: want one image with one tag, manifest.json has %+v", path, manifest)
	}
	tag, err := name.NewTag(manifest[0].RepoTags[0])
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img, manifest[0].RepoTags
}

// extractFile returns the file name of the image's last layer.
func extractFile(t testing.TB, img v1.Image, name string) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no %s in the image's last layer", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

// The archives make images writes are what `kind load image-archive` takes:
// one tagged image each, linux/amd64, the program as entrypoint, running as
// nonroot, two layers (base files, then the binary), and a binary that is
// statically linked. Their tags are the chart's default images, so helm
// install uses them as loaded.
func TestImageArchives(t *testing.T) {
	objs := render(t)
	chartImages := map[string]string{
		"ironlb-controller": convert[appsv1.Deployment](t, find(t, objs, "Deployment", "ironlb-controller")).Spec.Template.Spec.Containers[0].Image,
		"ironlb-speaker":    convert[appsv1.DaemonSet](t, find(t, objs, "DaemonSet", "ironlb-speaker")).Spec.Template.Spec.Containers[0].Image,
	}
	type archive struct {
		Tags             []string
		OS, Architecture string
		Entrypoint       []string
		User             string
		Layers           int
		Static           bool
	}
	for _, program := range []string{"ironlb-controller", "ironlb-speaker"} {
		t.Run(program, func(t *testing.T) {
			img, tags := readImage(t, program)
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			got := archive{
				Tags: tags, OS: cfg.OS, Architecture: cfg.Architecture,
				Entrypoint: cfg.Config.Entrypoint, User: cfg.Config.User, Layers: len(layers),
				Static: isStatic(t, extractFile(t, img, program)),
			}
			want := archive{
				Tags: []string{chartImages[program]}, OS: "linux", Architecture: "amd64",
				Entrypoint: []string{"/" + program}, User: "65532:65532", Layers: 2, Static: true,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s.tar (-want +got):\n%s", program, diff)
			}
		})
	}
}

// isStatic reports whether an ELF binary for amd64 needs no dynamic loader.
func isStatic(t testing.TB, binary []byte) bool {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("the program is not an ELF binary: %v", err)
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("the program is built for %v, want x86-64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
