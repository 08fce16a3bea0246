package main

import (
	"sync"

	"github.com/go-logr/logr"
)

// lazyValues returns l, except that the key/value pairs it is given
// (WithValues) are handed to its sink only when a message is logged.
//
// controller-runtime gives every reconcile a logger carrying the object's
// name and a reconcile ID, and zap encodes such pairs as soon as it gets
// them. A reconcile that logs nothing, as nearly every one does at the
// default level, paid for encoding nobody read: 3% of the controller's
// CPU, and more in garbage, during a burst of Services. What is logged is
// the same.
func lazyValues(l logr.Logger) logr.Logger {
	return logr.New(&lazySink{parent: l.GetSink(), full: &applied{}})
}

// lazySink is a logr.LogSink that holds WithValues pairs back from its
// parent until they are needed.
type lazySink struct {
	// parent has every name and call depth applied, and the pairs up to
	// pending.
	parent logr.LogSink
	// pending are the WithValues calls not yet applied to parent, in order.
	pending [][]any
	// full is parent with pending applied, made once, when first needed.
	full *applied
}

type applied struct {
	once sync.Once
	sink logr.LogSink
}

// Init accounts for lazySink's own frame between the caller and the parent
// (the parent was given logr's own when its Logger was made).
func (s *lazySink) Init(logr.RuntimeInfo) { s.parent.Init(logr.RuntimeInfo{CallDepth: 1}) }

func (s *lazySink) Enabled(level int) bool { return s.parent.Enabled(level) }

func (s *lazySink) Info(level int, msg string, keysAndValues ...any) {
	s.sink().Info(level, msg, keysAndValues...)
}

func (s *lazySink) Error(err error, msg string, keysAndValues ...any) {
	s.sink().Error(err, msg, keysAndValues...)
}

func (s *lazySink) WithValues(keysAndValues ...any) logr.LogSink {
	// A full slice expression: appending must never share the backing
	// array with a sibling logger.
	pending := append(s.pending[:len(s.pending):len(s.pending)], keysAndValues)
	return &lazySink{parent: s.parent, pending: pending, full: &applied{}}
}

// WithName applies the pending pairs first, so names and pairs reach the
// parent in the order they were given.
func (s *lazySink) WithName(name string) logr.LogSink {
	return &lazySink{parent: s.sink().WithName(name), full: &applied{}}
}

// WithCallDepth lets helpers that log on behalf of their caller (logr's
// own) report the caller, when the parent supports it.
func (s *lazySink) WithCallDepth(depth int) logr.LogSink {
	full := s.sink()
	if cd, ok := full.(logr.CallDepthLogSink); ok {
		full = cd.WithCallDepth(depth)
	}
	return &lazySink{parent: full, full: &applied{}}
}

// sink returns the parent with every pending pair applied.
func (s *lazySink) sink() logr.LogSink {
	if len(s.pending) == 0 {
		return s.parent
	}
	s.full.once.Do(func() {
		full := s.parent
		for _, kv := range s.pending {
			full = full.WithValues(kv...)
		}
		s.full.sink = full
	})
	return s.full.sink
}
