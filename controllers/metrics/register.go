// Package metrics holds what the controller's reconcilers share about their
// Prometheus metrics; each reconciler package declares its own.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterOrReuse registers *c on reg or, when a controller set up earlier
// in this process (tests, a restart in process) registered the same metric,
// points *c at that one, so counts carry on. Any other registration error
// (a different metric under the same name) is returned.
func RegisterOrReuse[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	var dup prometheus.AlreadyRegisteredError
	if err == nil || !errors.As(err, &dup) {
		return err
	}
	existing, ok := dup.ExistingCollector.(C)
	if !ok {
		return err
	}
	*c = existing
	return nil
}
