// Package cli is kubectl ironlb's command line: the commands, their flags
// (kubectl's own connection flags, from cli-runtime) and the wiring of
// reading, deciding (packages migrate and status) and writing.
package cli

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/cluster"
)

// NewCommand returns the root command, `kubectl ironlb`, writing to streams.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	kube := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-ironlb",
		Short: "Migrate from MetalLB to IronLB, and show IronLB's state",
		Long: `kubectl ironlb works with IronLB, the bare-metal LoadBalancer for Kubernetes.

  migrate  print (or apply) the IronLB equivalent of a MetalLB configuration
  status   show pools, addresses, Services, announcing nodes, BGP sessions
           and what is pending and why`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ironlb"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	kube.AddFlags(root.PersistentFlags())
	root.AddCommand(newMigrateCommand(kube, streams), newStatusCommand(kube, streams))
	return root
}

// classFlags are ironlb-controller's --load-balancer-class and
// --default-class, which both commands need to tell IronLB's Services.
type classFlags struct {
	class        string
	defaultClass bool
}

func (f *classFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.class, "load-balancer-class", v1beta1.DefaultLoadBalancerClass,
		"ironlb-controller's --load-balancer-class: the spec.loadBalancerClass of the Services IronLB handles")
	cmd.Flags().BoolVar(&f.defaultClass, "default-class", true,
		"ironlb-controller's --default-class: whether IronLB also handles Services without spec.loadBalancerClass")
}

func (f *classFlags) filter() v1beta1.ClassFilter {
	return v1beta1.ClassFilter{Class: f.class, Default: f.defaultClass}
}

// clients connects as kubectl would with the same flags.
func clients(kube *genericclioptions.ConfigFlags) (*cluster.Clients, error) {
	cfg, err := kube.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return cluster.New(cfg)
}

// clientsOnce connects on first use only: migrate from files alone needs no
// cluster.
type clientsOnce struct {
	c *cluster.Clients
}

func (o *clientsOnce) get(kube *genericclioptions.ConfigFlags) (*cluster.Clients, error) {
	if o.c != nil {
		return o.c, nil
	}
	c, err := clients(kube)
	o.c = c
	return c, err
}
