// Command kubectl-ironlb is IronLB's kubectl plugin (`kubectl ironlb`, once
// on the PATH): `migrate` converts a MetalLB v0.15 configuration to IronLB's
// (docs/migration.md), `status` shows pools, addresses, Services, announcing
// nodes, BGP sessions and what is pending. The commands live in
// internal/cli.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		stop()
		os.Exit(1)
	}
}
