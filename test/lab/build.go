package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Binaries are the IronLB programs the lab runs.
type Binaries struct {
	Controller string // ironlb-controller
	Speaker    string // ironlb-speaker
}

// Build compiles ./cmd/controller and ./cmd/speaker of the module the
// current directory belongs to into dir.
func Build(ctx context.Context, dir string) (*Binaries, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	b := &Binaries{
		Controller: filepath.Join(dir, "ironlb-controller"),
		Speaker:    filepath.Join(dir, "ironlb-speaker"),
	}
	for pkg, out := range map[string]string{"./cmd/controller": b.Controller, "./cmd/speaker": b.Speaker} {
		cmd := []string{"-C", root, "build", "-o", out, pkg}
		if _, err := command(ctx, "go", cmd...); err != nil {
			return nil, fmt.Errorf("building %s: %w", pkg, err)
		}
	}
	return b, nil
}

// ModuleRoot is the directory of the go.mod that governs the current directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := command(ctx, "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(out)
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}
