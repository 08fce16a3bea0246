package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/status"
)

func newStatusCommand(kube *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	var class classFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show pools, addresses, Services, announcing nodes, BGP sessions, and what is pending",
		Long: `Show IronLB's state: each IPAddressPool with its addresses used and free and the
advertisements announcing it; each LoadBalancer Service of IronLB's class with its pool,
addresses, ironlb.io/IPAllocated condition and the nodes announcing each address (from the
ServiceAnnouncements the speakers keep: "?" when a Service has none); the
Services still pending and why; each BGPPeer's session on each node.

Services of every namespace are shown unless -n/--namespace is given.`,
		Example: `  kubectl ironlb status
  kubectl ironlb status -n team-a -o wide
  kubectl ironlb status -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != status.FormatTable && !slices.Contains(status.Formats, output) {
				return fmt.Errorf("--output must be one of %s, not %q", strings.Join(status.Formats, ", "), output)
			}
			namespace := ""
			if cmd.Flags().Changed("namespace") {
				namespace = *kube.Namespace
			}
			c, err := clients(kube)
			if err != nil {
				return err
			}
			snap := status.Snapshot{Class: class.filter()}
			if err := c.ReadIronLB(cmd.Context(), namespace, &snap); err != nil {
				return err
			}
			return status.Print(streams.Out, status.Build(snap, namespace), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: wide, yaml or json (default: tables)")
	class.add(cmd)
	return cmd
}
