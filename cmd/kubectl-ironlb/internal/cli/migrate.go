package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/migrate"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// migrateOptions are `kubectl ironlb migrate`'s flags.
type migrateOptions struct {
	files           []string
	recursive       bool
	fromCluster     bool
	allNamespaces   bool
	output          string
	apply           bool
	forceConflicts  bool
	secretNamespace string
	class           classFlags
}

func newMigrateCommand(kube *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate (-f FILENAME | --from-cluster) [--apply]",
		Short: "Print the IronLB equivalent of a MetalLB v0.15 configuration",
		Long: `Print the IronLB objects equivalent to a MetalLB v0.15 configuration: IPAddressPools,
L2Advertisements, BGPAdvertisements (Community aliases resolved), BGPPeers (v1beta2 and
v1beta1) and BFDProfiles, read from files (-f) or from the cluster (--from-cluster).

The objects go to stdout; stderr gets a report naming every field that could not be
carried over as it was (object, field path, value, outcome, reason), then, with the
Services in the input, every Service whose addresses ironlb-controller would change
on its first start. Nothing is applied unless --apply is given: then the objects are
applied with server-side apply (field manager kubectl-ironlb) and stdout lists them.

The migration, step by step: docs/migration.md.`,
		Example: `  # What would my cluster's MetalLB configuration become?
  kubectl ironlb migrate --from-cluster

  # The same from files; a directory reads its .yaml, .yml and .json files
  kubectl ironlb migrate -f metallb-config/ -o json

  # Apply it (after reading the report)
  kubectl ironlb migrate --from-cluster --apply`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			namespace := migrate.DefaultNamespace
			if cmd.Flags().Changed("namespace") {
				namespace = *kube.Namespace
			}
			return o.run(cmd, kube, streams, namespace)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "MetalLB objects to convert: a file, a directory, or - for stdin (repeatable)")
	f.BoolVarP(&o.recursive, "recursive", "R", false, "Read the directories of -f recursively")
	f.BoolVar(&o.fromCluster, "from-cluster", false,
		"Read MetalLB's objects of --namespace (default "+migrate.DefaultNamespace+"), and every Service, from the cluster")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "With --from-cluster, read MetalLB's objects of every namespace")
	f.StringVarP(&o.output, "output", "o", "yaml", "Output format: yaml or json")
	f.BoolVar(&o.apply, "apply", false, "Apply the objects with server-side apply (field manager kubectl-ironlb) instead of printing them")
	f.BoolVar(&o.forceConflicts, "force-conflicts", false, "With --apply, take over fields another field manager owns")
	f.StringVar(&o.secretNamespace, "secret-namespace", migrate.DefaultSecretNamespace,
		"ironlb-speaker's --secret-namespace: where BGP password Secrets must be")
	o.class.add(cmd)
	return cmd
}

func (o *migrateOptions) run(cmd *cobra.Command, kube *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, namespace string) error {
	if len(o.files) == 0 && !o.fromCluster {
		return errors.New("nothing to read: give -f FILENAME or --from-cluster")
	}
	if o.output != "yaml" && o.output != "json" {
		return fmt.Errorf("--output must be yaml or json, not %q", o.output)
	}
	ctx := cmd.Context()
	var set metallb.Set
	var rep report.Report
	if err := set.DecodeFiles(o.files, o.recursive, streams.In, &rep); err != nil {
		return err
	}
	var cl clientsOnce
	if o.fromCluster {
		c, err := cl.get(kube)
		if err != nil {
			return err
		}
		readNS := namespace
		if o.allNamespaces {
			readNS = ""
		}
		if err := c.ReadMetalLB(ctx, readNS, &set, &rep); err != nil {
			return err
		}
	}
	res := migrate.Convert(set, migrate.Options{Namespace: namespace, SecretNamespace: o.secretNamespace})
	res.Report.Entries = append(rep.Entries, res.Report.Entries...)
	if err := migrate.CheckServices(ctx, &res, set.Services, set.Namespaces, o.class.filter()); err != nil {
		return err
	}
	objs, err := res.Objects()
	if err != nil {
		return err
	}
	if err := res.Report.WriteText(streams.ErrOut); err != nil {
		return err
	}
	if o.apply {
		c, err := cl.get(kube)
		if err != nil {
			return err
		}
		return c.Apply(ctx, objs, o.forceConflicts, streams.Out)
	}
	if o.output == "json" {
		return migrate.WriteJSON(streams.Out, objs)
	}
	return migrate.WriteYAML(streams.Out, objs)
}
