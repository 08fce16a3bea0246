package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// TestLazyValuesLogsTheSame: deferring the pairs changes nothing in what
// is written, caller included, whatever the order of names, pairs and
// sibling loggers.
func TestLazyValuesLogsTheSame(t *testing.T) {
	var out [2][]string // one call site: error stacks name the same lines
	for i, wrap := range []func(logr.Logger) logr.Logger{func(l logr.Logger) logr.Logger { return l }, lazyValues} {
		out[i] = logLines(t, wrap)
	}
	want, got := out[0], out[1]
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lazy logger output (-eager +lazy):\n%s", diff)
	}
	if len(want) != 6 {
		t.Errorf("logged %d lines, want 6:\n%s", len(want), strings.Join(want, "\n"))
	}
}

// logLines logs the same things through wrap(a zap logger like the
// controller's, with the caller shown) and returns the lines written.
func logLines(t *testing.T, wrap func(logr.Logger) logr.Logger) []string {
	t.Helper()
	var buf bytes.Buffer
	l := wrap(zap.New(zap.WriteTo(&buf), zap.Level(zapcore.Level(-1)),
		func(o *zap.Options) {
			o.TimeEncoder = func(_ time.Time, enc zapcore.PrimitiveArrayEncoder) { enc.AppendString("T") }
			o.ZapOpts = append(o.ZapOpts, uzap.AddCaller())
		}))
	logAll(l)
	return strings.Split(strings.TrimSpace(buf.String()), "\n")
}

func logAll(root logr.Logger) {
	ctrl := root.WithName("controller").WithValues("controller", "service")
	req := ctrl.WithValues("Service", klog.KRef("ns", "web"), "namespace", "ns", "name", "web")
	sibling := ctrl.WithValues("namespace", "other")
	rec := req.WithValues("reconcileID", "1234")
	rec.V(5).Info("Reconciling") // not enabled: nothing
	rec.Info("Released addresses", "ips", []string{"192.0.2.1"})
	rec.V(1).Info("Could not restore", "reason", "gone")
	rec.Error(errors.New("conflict"), "Reconciler error")
	sibling.Info("Sibling")
	rec.WithName("events").Info("Named after values")
	ctrl.WithValues("a", 1).WithValues("b", 2).Info("Stacked")
}
