package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one file of a layer as a container runtime unpacks it.
type entry struct {
	Name     string
	Mode     int64
	UID, GID int
	Size     int64
}

func layerEntries(t *testing.T, l v1.Layer) ([]entry, map[string][]byte) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []entry
	data := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, data
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{Name: h.Name, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Size: h.Size})
		data[h.Name] = b
	}
}

// TestImageArchive builds an image around a small static binary, writes it
// the way `make images` does and reads the archive back as a container
// runtime would: manifest and tag, config, layers, and the binary itself.
func TestImageArchive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "ironlb-hello")
	if err := buildStatic(".", "./testdata/hello", bin, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	img, err := NewImage(bin, "ironlb-hello", runtime.GOARCH, "9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("ghcr.io/ironlb/ironlb-hello:9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "ironlb-hello.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}

	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ghcr.io/ironlb/ironlb-hello:9.9.9"}, manifest[0].RepoTags); diff != "" {
		t.Errorf("manifest.json RepoTags (-want +got):\n%s", diff)
	}

	back, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	type config struct {
		OS, Architecture, User string
		Entrypoint             []string
		Labels                 map[string]string
	}
	gotCfg := config{cfg.OS, cfg.Architecture, cfg.Config.User, cfg.Config.Entrypoint, cfg.Config.Labels}
	wantCfg := config{"linux", runtime.GOARCH, "65532:65532", []string{"/ironlb-hello"}, map[string]string{
		"org.opencontainers.image.title":   "ironlb-hello",
		"org.opencontainers.image.version": "9.9.9",
		"org.opencontainers.image.source":  "https://github.com/ironlb/ironlb",
	}}
	if diff := cmp.Diff(wantCfg, gotCfg); diff != "" {
		t.Errorf("image config (-want +got):\n%s", diff)
	}

	layers, err := back.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("got %d layers, want 2 (base, binary)", len(layers))
	}
	baseEntries, baseData := layerEntries(t, layers[0])
	wantBase := []entry{
		{Name: "etc/", Mode: 0o755},
		{Name: "etc/passwd", Mode: 0o644, Size: int64(len(baseData["etc/passwd"]))},
		{Name: "etc/group", Mode: 0o644, Size: int64(len(baseData["etc/group"]))},
		{Name: "home/", Mode: 0o755},
		{Name: "home/nonroot/", Mode: 0o700, UID: 65532, GID: 65532},
		{Name: "tmp/", Mode: 0o1777},
	}
	if diff := cmp.Diff(wantBase, baseEntries); diff != "" {
		t.Errorf("base layer (-want +got):\n%s", diff)
	}
	wantPasswd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	if diff := cmp.Diff(wantPasswd, string(baseData["etc/passwd"])); diff != "" {
		t.Errorf("/etc/passwd (-want +got):\n%s", diff)
	}

	appEntries, appData := layerEntries(t, layers[1])
	binBytes, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]entry{{Name: "ironlb-hello", Mode: 0o755, Size: int64(len(binBytes))}}, appEntries); diff != "" {
		t.Errorf("binary layer (-want +got):\n%s", diff)
	}

	// The binary as unpacked from the image runs, with no libc around.
	extracted := filepath.Join(dir, "extracted")
	if err := os.WriteFile(extracted, appData["ironlb-hello"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(extracted).Output()
	if err != nil {
		t.Fatalf("running the binary from the image: %v", err)
	}
	if got, want := string(out), "hello from a static binary\n"; got != want {
		t.Errorf("binary printed %q, want %q", got, want)
	}

	// Same binary, same image: layers and config carry no build time.
	again, err := NewImage(bin, "ironlb-hello", runtime.GOARCH, "9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("rebuilding gave digest %s, first build %s", d2, d1)
	}
}

func TestComponent(t *testing.T) {
	for _, tc := range []struct{ in, pkg, program string }{
		{"controller", "./cmd/controller", "ironlb-controller"},
		{"speaker", "./cmd/speaker", "ironlb-speaker"},
		{"./test/cluster/images/pause", "./test/cluster/images/pause", "ironlb-lab-pause"},
		{"./test/cluster/images/echo", "./test/cluster/images/echo", "ironlb-lab-echo"},
		{"./test/cluster/images/echo/", "./test/cluster/images/echo/", "ironlb-lab-echo"},
	} {
		pkg, program := component(tc.in)
		if pkg != tc.pkg || program != tc.program {
			t.Errorf("component(%q) = %q, %q; want %q, %q", tc.in, pkg, program, tc.pkg, tc.program)
		}
	}
}

// TestLabImageArchive builds the lab's echo image the way `make lab-images`
// does, a package path as component, and reads the archive back: its name,
// entrypoint and binary, which must run from the image.
func TestLabImageArchive(t *testing.T) {
	out := t.TempDir()
	err := run(Options{
		Out: out, Repository: "ghcr.io/ironlb", Tag: "9.9.9", Arch: runtime.GOARCH,
		Components: []string{"./test/cluster/images/echo"},
	})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(out, "ironlb-lab-echo.tar")
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ghcr.io/ironlb/ironlb-lab-echo:9.9.9"}, manifest[0].RepoTags); diff != "" {
		t.Errorf("manifest.json RepoTags (-want +got):\n%s", diff)
	}

	tag, err := name.NewTag("ghcr.io/ironlb/ironlb-lab-echo:9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/ironlb-lab-echo"}, cfg.Config.Entrypoint); diff != "" {
		t.Errorf("entrypoint (-want +got):\n%s", diff)
	}
	if got := cfg.Config.Labels["org.opencontainers.image.title"]; got != "ironlb-lab-echo" {
		t.Errorf("title label %q, want ironlb-lab-echo", got)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("got %d layers, want 2 (base, binary)", len(layers))
	}
	entries, data := layerEntries(t, layers[1])
	if len(entries) != 1 || entries[0].Name != "ironlb-lab-echo" || entries[0].Mode != 0o755 {
		t.Fatalf("binary layer %+v, want only ironlb-lab-echo, mode 0755", entries)
	}

	// The static binary runs from the image: -h prints the flags and exits 0
	// without opening a port.
	extracted := filepath.Join(out, "extracted")
	if err := os.WriteFile(extracted, data["ironlb-lab-echo"], 0o755); err != nil {
		t.Fatal(err)
	}
	usage, err := exec.Command(extracted, "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("running the binary from the image: %v\n%s", err, usage)
	}
	if !strings.Contains(string(usage), "-listen") {
		t.Errorf("usage %q does not mention -listen", usage)
	}
}

func TestAppVersion(t *testing.T) {
	got, err := appVersion("../../charts/ironlb/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got == "" || got[0] < '0' || got[0] > '9' {
		t.Errorf("appVersion %q does not look like a version", got)
	}
}
