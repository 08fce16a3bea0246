// Command lab is the README demo of layer 2: it builds the namespace lab of
// package test/lab (an API server, three node namespaces each running
// ironlb-speaker, the controller, a client namespace on the same bridge),
// applies a sample pool, L2Advertisement and Service, prints `kubectl get svc`
// and then asks the client's arping who has the Service's address, naming
// the node that answered. Needs root.
//
//	go run ./hack/lab                  # build, show, then tear everything down
//	go run ./hack/lab --bin-dir bin    # use binaries from make build
//	go run ./hack/lab --wait           # keep the lab up until Ctrl-C
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/test/lab"
)

func main() {
	wait := flag.Bool("wait", false, "Keep the lab running after the demo until Ctrl-C, to explore it.")
	binDir := flag.String("bin-dir", "", "Directory holding ironlb-controller and ironlb-speaker (make build puts them in bin/); default: build them.")
	verbose := flag.Bool("v", false, "Print the lab's progress.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *binDir, *wait, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "hack/lab:", err)
		os.Exit(1)
	}
}

// demoPool is the sample pool of the README.
const demoPool = "203.0.113.10-203.0.113.50"

func run(ctx context.Context, out io.Writer, binDir string, wait, verbose bool) (err error) {
	// envtest logs through controller-runtime's global logger.
	ctrllog.SetLogger(logr.Discard())
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces, raw sockets)")
	}
	bins, err := binaries(ctx, out, binDir)
	if err != nil {
		return err
	}
	if binDir == "" {
		defer os.RemoveAll(filepath.Dir(bins.Speaker))
	}
	fmt.Fprintln(out, "Starting the lab: API server, 3 node namespaces with a speaker each, a client, the controller ...")
	opts := lab.Options{Binaries: bins}
	if verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	}
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "Removing the lab ...")
		err = errors.Join(err, l.Close())
	}()
	if err := demo(ctx, out, l); err != nil {
		l.DumpLogs(func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
		return err
	}
	if wait {
		explain(out, l)
		<-ctx.Done()
	}
	return nil
}

// binaries returns the programs in dir, or builds them into a temporary
// directory when dir is empty.
func binaries(ctx context.Context, out io.Writer, dir string) (*lab.Binaries, error) {
	if dir != "" {
		b := &lab.Binaries{
			Controller: filepath.Join(dir, "ironlb-controller"),
			Speaker:    filepath.Join(dir, "ironlb-speaker"),
		}
		for _, p := range []string{b.Controller, b.Speaker} {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("--bin-dir: %w", err)
			}
		}
		return b, nil
	}
	tmp, err := os.MkdirTemp("", "ironlb-lab-bin-")
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "Building ironlb-controller and ironlb-speaker ...")
	b, err := lab.Build(ctx, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return b, nil
}

// demo applies the sample objects and shows what the client sees.
func demo(ctx context.Context, out io.Writer, l *lab.Lab) error {
	svc := lab.LoadBalancer("demo-web")
	fmt.Fprintf(out, "\nApplying IPAddressPool demo (%s), L2Advertisement demo and Service default/demo-web ...\n", demoPool)
	if err := l.Create(ctx, lab.Pool("demo", demoPool), lab.L2Advertisement("demo", "demo"), svc); err != nil {
		return err
	}
	ips, err := l.WaitForIngress(ctx, svc)
	if err != nil {
		return err
	}
	ip := ips[0]
	kubectl, err := l.Kubectl(ctx, "get", "svc", "demo-web")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ kubectl get svc demo-web\n%s", kubectl)

	// Wait for an answer first, so the printed arping is not the one that
	// raced the speakers.
	if err := lab.Poll(ctx, 30*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		macs, err := l.Arping(ctx, "eth0", ip)
		if err == nil && len(macs) == 0 {
			err = fmt.Errorf("no ARP answer for %s", ip)
		}
		return err
	}); err != nil {
		return err
	}
	arping, err := l.Exec(ctx, l.Client, "arping", "-c", "1", "-i", "eth0", ip.String())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ ip netns exec %s arping -c 1 -i eth0 %s    # from the client %s\n%s",
		l.Client.Netns, ip, l.Client.IPv4, arping)
	macs, err := l.Arping(ctx, "eth0", ip)
	if err != nil {
		return err
	}
	for _, mac := range macs {
		if n := l.NodeByMAC(mac); n != nil {
			fmt.Fprintf(out, "\n%s answered from %s: that is eth0 of %s (%s), whose speaker announces it.\n",
				ip, mac, n.Name, n.IPv4)
		} else {
			fmt.Fprintf(out, "\n%s answered from %s, which is no lab node.\n", ip, mac)
		}
	}
	return announcedBy(ctx, out, l, ip)
}

// announcedBy prints which speakers report announcing ip in ironlb_announced.
func announcedBy(ctx context.Context, out io.Writer, l *lab.Lab, ip netip.Addr) error {
	var lines []string
	for _, n := range l.Nodes {
		samples, err := n.Metrics(ctx)
		if err != nil {
			return err
		}
		v := lab.Sum(samples, "ironlb_announced", map[string]string{"ip": ip.String(), "protocol": "layer2"})
		lines = append(lines, fmt.Sprintf("  %s: ironlb_announced{ip=%q,protocol=\"layer2\"} %g", n.Name, ip, v))
	}
	fmt.Fprintf(out, "Speakers' metrics:\n%s\n", strings.Join(lines, "\n"))
	return nil
}

// explain says how to look around a lab left running by --wait.
func explain(out io.Writer, l *lab.Lab) {
	fmt.Fprintf(out, "\nThe lab keeps running until Ctrl-C. To look around:\n")
	fmt.Fprintf(out, "  %s --kubeconfig %s get svc,ipaddresspools,l2advertisements\n", l.KubectlPath(), l.Kubeconfig)
	fmt.Fprintf(out, "  ip netns exec %s arping -c 3 -i eth0 <EXTERNAL-IP>\n", l.Client.Netns)
	for _, n := range l.Nodes {
		fmt.Fprintf(out, "  %s: namespace %s, %s, eth0 %s\n", n.Name, n.Netns, n.IPv4, n.MAC)
	}
	fmt.Fprintf(out, "  logs: %s\n", l.Dir)
}
