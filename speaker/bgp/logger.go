package bgp

import (
	"errors"
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	"github.com/osrg/gobgp/v3/pkg/log"
)

// gobgpLogger passes GoBGP's log lines to logr and shows each to observe,
// which picks out session failures. GoBGP warnings and information (peer up
// and down, configuration changes) log at V(0), its debug lines at V(2).
type gobgpLogger struct {
	log logr.Logger
	// wantDebug reports whether GoBGP should produce debug lines: they carry
	// the dial errors of sessions that are down, but cost allocations on hot
	// paths (every UPDATE sent), so they are off while all sessions are up.
	wantDebug func() bool
	observe   func(msg string, fields log.Fields)
}

var _ log.Logger = gobgpLogger{}

func (l gobgpLogger) Panic(msg string, fields log.Fields) {
	l.log.Error(nil, msg, keysAndValues(fields)...)
	panic(fmt.Sprintf("gobgp: %s %v", msg, fields))
}

// Fatal is how GoBGP reports a broken internal invariant; it expects the
// process to end there, so carrying on is not an option.
func (l gobgpLogger) Fatal(msg string, fields log.Fields) {
	l.log.Error(nil, msg, keysAndValues(fields)...)
	panic(fmt.Sprintf("gobgp: %s %v", msg, fields))
}

func (l gobgpLogger) Error(msg string, fields log.Fields) {
	l.observe(msg, fields)
	l.log.Error(fieldError(fields), msg, keysAndValues(fields)...)
}

func (l gobgpLogger) Warn(msg string, fields log.Fields) {
	l.observe(msg, fields)
	l.log.Info(msg, keysAndValues(fields)...)
}

func (l gobgpLogger) Info(msg string, fields log.Fields) {
	l.observe(msg, fields)
	l.log.Info(msg, keysAndValues(fields)...)
}

func (l gobgpLogger) Debug(msg string, fields log.Fields) {
	l.observe(msg, fields)
	if v := l.log.V(2); v.Enabled() {
		v.Info(msg, keysAndValues(fields)...)
	}
}

// SetLevel is ignored: verbosity is logr's business.
func (l gobgpLogger) SetLevel(log.LogLevel) {}

func (l gobgpLogger) GetLevel() log.LogLevel {
	if l.wantDebug() || l.log.V(2).Enabled() {
		return log.DebugLevel
	}
	return log.InfoLevel
}

// keysAndValues flattens GoBGP's fields in a stable order.
func keysAndValues(fields log.Fields) []any {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	kv := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, fields[k])
	}
	return kv
}

func fieldError(fields log.Fields) error {
	for _, k := range []string{"Error", "Err"} {
		if err, ok := fields[k].(error); ok {
			return err
		}
	}
	return errors.New("gobgp error")
}
