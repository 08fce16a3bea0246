// Command images builds IronLB's container images without a Docker daemon:
// each program compiled statically (CGO_ENABLED=0) and put on an empty base
// with a nonroot user, written as a docker-save tarball (manifest.json,
// config, layers, tag) that `kind load image-archive`, `docker load` and
// `ctr images import` accept.
//
//	go run ./hack/images [-out dist] [-tag 0.1.0] [-repository ghcr.io/ironlb] [-components controller,speaker]
//
// The images are <repository>/ironlb-controller:<tag> and
// <repository>/ironlb-speaker:<tag>, the chart's default image names; the tag
// defaults to the chart's appVersion, so `helm install` finds what was loaded.
// Layers are byte-for-byte reproducible: fixed timestamps and owners.
//
// A -components entry is a program of cmd/ (controller: ./cmd/controller,
// ironlb-controller), or a package path starting with "./", whose last
// element names a lab program: ./test/cluster/images/pause builds
// <repository>/ironlb-lab-pause:<tag>. `make lab-images` builds the lab
// cluster's pause (sandbox) and echo (backend) images that way, since the lab
// has no registry to pull them from.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Nonroot is the user the images run as, distroless' "nonroot".
const (
	nonrootUID = 65532
	nonrootGID = 65532
)

// epoch stamps every file and the image itself, so rebuilding the same
// binary gives the same image digest.
var epoch = time.Unix(0, 0).UTC()

// Options are the command's flags.
type Options struct {
	Out        string
	Repository string
	Tag        string
	Arch       string
	Components []string
}

func main() {
	var o Options
	var components string
	flag.StringVar(&o.Out, "out", "dist", "Directory the image tarballs are written to.")
	flag.StringVar(&o.Repository, "repository", "ghcr.io/ironlb", "Registry and path the image names start with.")
	flag.StringVar(&o.Tag, "tag", "", "Image tag (default: appVersion of charts/ironlb/Chart.yaml).")
	flag.StringVar(&o.Arch, "arch", "amd64", "GOARCH of the binaries and the images.")
	flag.StringVar(&components, "components", "controller,speaker", "Programs to build: names in cmd/, or package paths starting with ./ (lab images).")
	flag.Parse()
	o.Components = strings.Split(components, ",")
	log.SetFlags(0)
	if err := run(o); err != nil {
		log.Fatalf("images: %v", err)
	}
}

func run(o Options) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if o.Tag == "" {
		if o.Tag, err = appVersion(filepath.Join(root, "charts", "ironlb", "Chart.yaml")); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "ironlb-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)

	for _, c := range o.Components {
		pkg, program := component(c)
		binPath := filepath.Join(bin, program)
		if err := buildStatic(root, pkg, binPath, o.Arch); err != nil {
			return err
		}
		var extras []string
		for _, x := range companions[program] {
			xPath := filepath.Join(bin, path.Base(x))
			if err := buildStatic(root, x, xPath, o.Arch); err != nil {
				return err
			}
			extras = append(extras, xPath)
		}
		img, err := NewImage(binPath, program, o.Arch, o.Tag, extras...)
		if err != nil {
			return fmt.Errorf("%s: %w", program, err)
		}
		ref, err := name.NewTag(fmt.Sprintf("%s/%s:%s", o.Repository, program, o.Tag))
		if err != nil {
			return err
		}
		archive := filepath.Join(o.Out, program+".tar")
		if err := tarball.WriteToFile(archive, ref, img); err != nil {
			return fmt.Errorf("writing %s: %w", archive, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		log.Printf("%s\t%s\t%s", archive, ref, digest)
	}
	return nil
}

// component maps a -components entry to the package to build and the
// program (binary and image) name: "controller" is ./cmd/controller,
// ironlb-controller; "./test/cluster/images/echo" is itself, ironlb-lab-echo,
// the prefix keeping lab-only images apart from the released ones.
func component(c string) (pkg, program string) {
	if strings.HasPrefix(c, "./") {
		return c, "ironlb-lab-" + path.Base(c)
	}
	return "./cmd/" + c, "ironlb-" + c
}

// companions are programs shipped in an image beside its own, at
// /<name>: the controller image carries kubectl-ironlb, so the plugin of
// the version a cluster runs comes with it (`docker cp $(docker create
// IMAGE):/kubectl-ironlb .`; the image has no tar for `kubectl cp`).
var companions = map[string][]string{
	"ironlb-controller": {"./cmd/kubectl-ironlb"},
}

// buildStatic compiles pkg for linux/arch without cgo, so the binary needs no
// libc and runs on an empty base.
func buildStatic(root, pkg, out, arch string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// NewImage returns a linux/arch image of two layers: a base with /etc/passwd,
// /etc/group, /tmp and the nonroot home, then the binary at /<program>, the
// entrypoint, and each of extras at /<its file name>. It runs as nonroot
// (65532) unless the pod says otherwise.
func NewImage(binPath, program, arch, version string, extras ...string) (v1.Image, error) {
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, err
	}
	base, err := layer(baseFiles())
	if err != nil {
		return nil, err
	}
	files := []file{{name: program, mode: 0o755, data: bin}}
	for _, x := range extras {
		data, err := os.ReadFile(x)
		if err != nil {
			return nil, err
		}
		files = append(files, file{name: filepath.Base(x), mode: 0o755, data: data})
	}
	app, err := layer(files)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, base, app)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = arch, "linux"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint = []string{"/" + program}
	cfg.Config.User = fmt.Sprintf("%d:%d", nonrootUID, nonrootGID)
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   program,
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.source":  "https://github.com/ironlb/ironlb",
	}
	return mutate.ConfigFile(img, cfg)
}

type file struct {
	name     string // path without the leading slash
	mode     int64
	data     []byte
	dir      bool
	uid, gid int
}

func baseFiles() []file {
	return []file{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonrootUID, nonrootGID))},
		{name: "etc/group", mode: 0o644, data: []byte(
			"root:x:0:\n" + fmt.Sprintf("nonroot:x:%d:\n", nonrootGID))},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, dir: true, uid: nonrootUID, gid: nonrootGID},
		{name: "tmp", mode: 0o1777, dir: true},
	}
}

// layer packs files into a gzip-compressed, reproducible tar layer.
func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid,
			ModTime: epoch, Format: tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// moduleRoot is the directory of the repository's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run inside the ironlb module (go run ./hack/images)")
	}
	return filepath.Dir(gomod), nil
}

// appVersion reads the appVersion line of Chart.yaml.
func appVersion(chartYAML string) (string, error) {
	f, err := os.Open(chartYAML)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "appVersion:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no appVersion", chartYAML)
}
