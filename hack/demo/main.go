// Command demo runs IronLB's main job on a local default: a real API server
// (built by hack/envtest.sh), the CRDs, a sample pool, ironlb-controller, and a
// sample Service, then prints `kubectl get svc` showing its EXTERNAL-IP.
//
//	go run ./hack/demo --controller bin/ironlb-controller
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	controller := flag.String("controller", "bin/ironlb-controller", "ironlb-controller binary")
	wait := flag.Bool("wait", false, "keep everything running until interrupted")
	flag.Parse()
	if err := run(*controller, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(controller string, wait bool) error {
	env := &envtest.Environment{CRDDirectoryPaths: []string{"config/crd"}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the API server: %w", err)
	}
	defer env.Stop() //nolint:errcheck

	dir, err := os.MkdirTemp("", "ironlb-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return err
	}
	kubeconfigBytes, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kubeconfigBytes, 0o600); err != nil {
		return err
	}
	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"),
			append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctl := exec.CommandContext(ctx, controller, "--kubeconfig", kubeconfig, "--leader-elect=false",
		"--metrics-bind-address", "0", "--health-probe-bind-address", "127.0.0.1:0")
	if err := os.MkdirAll("_out", 0o755); err != nil {
		return err
	}
	logFile, err := os.Create("_out/demo-controller.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	ctl.Stdout, ctl.Stderr = logFile, logFile
	step("Starting ironlb-controller (logs: _out/demo-controller.log)")
	if err := ctl.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", controller, err)
	}

	step("Applying a pool (203.0.113.10-203.0.113.50, 2001:db8:113::/120) and a LoadBalancer Service")
	for _, f := range []string{"config/samples/ipaddresspool.yaml", "config/samples/service.yaml"} {
		if out, err := kubectl("apply", "-f", f); err != nil {
			return fmt.Errorf("kubectl apply -f %s: %v: %s", f, err, out)
		}
	}
	ip, err := waitFor(30*time.Second, func() (string, error) {
		return kubectl("get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	})
	if err != nil {
		return fmt.Errorf("the Service got no external IP: %w", err)
	}
	step("The Service got " + ip)
	for _, args := range [][]string{{"get", "svc", "web"}, {"get", "ipaddresspools"}} {
		out, _ := kubectl(args...)
		fmt.Printf("$ kubectl %s\n%s\n", strings.Join(args, " "), out)
	}
	if wait {
		fmt.Printf("KUBECONFIG=%s; press Ctrl-C to stop\n", kubeconfig)
		sig, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-sig.Done()
	}
	return nil
}

func step(s string) { fmt.Println("==>", s) }

func waitFor(timeout time.Duration, get func() (string, error)) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, err := get()
		if err == nil && strings.TrimSpace(out) != "" {
			return strings.TrimSpace(out), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("timed out: %v %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
