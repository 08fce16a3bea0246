package service

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestOwnWrites: only the update that follows the version our write read,
// and, once the write's response is in, leads to the version it left, is
// ours; and only once.
func TestOwnWrites(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "web"}
	other := types.NamespacedName{Namespace: "ns", Name: "api"}
	type update struct {
		key      types.NamespacedName
		old, new string // resourceVersions
		want     bool   // isOwn
	}
	tests := []struct {
		name    string
		write   func(*ownWrites) // what the reconciler noted
		updates []update         // as the informer delivers them, in order
	}{{
		name:    "event after the response",
		write:   func(w *ownWrites) { w.begin(key, "5"); w.done(key, "6") },
		updates: []update{{key, "5", "6", true}, {key, "5", "6", false}, {key, "6", "7", false}},
	}, {
		name:    "event before the response",
		write:   func(w *ownWrites) { w.begin(key, "5") },
		updates: []update{{key, "5", "6", true}, {key, "6", "7", false}},
	}, {
		name: "response after its event is forgotten, not recorded again",
		write: func(w *ownWrites) {
			w.begin(key, "5")
			if !w.isOwn(service(key, "5"), service(key, "6")) {
				t.Error("the event of the write under way is not recognised")
			}
			w.done(key, "6")
		},
		updates: []update{{key, "5", "6", false}},
	}, {
		name:  "a relist skipping past our version includes another change",
		write: func(w *ownWrites) { w.begin(key, "5"); w.done(key, "6") },
		// The informer went from 5 straight to 7: someone wrote after us.
		updates: []update{{key, "5", "7", false}, {key, "5", "6", false}},
	}, {
		name:    "someone else's change since the version read",
		write:   func(w *ownWrites) { w.begin(key, "5"); w.done(key, "6") },
		updates: []update{{key, "4", "5", false}, {key, "5", "6", true}},
	}, {
		name:    "a write that changed nothing causes no event",
		write:   func(w *ownWrites) { w.begin(key, "5"); w.done(key, "5") },
		updates: []update{{key, "5", "6", false}},
	}, {
		name:    "a failed write",
		write:   func(w *ownWrites) { w.begin(key, "5"); w.forget(key) },
		updates: []update{{key, "5", "6", false}},
	}, {
		name:    "another Service",
		write:   func(w *ownWrites) { w.begin(key, "5"); w.done(key, "6") },
		updates: []update{{other, "5", "6", false}, {key, "5", "6", true}},
	}, {
		name:    "nothing written",
		write:   func(*ownWrites) {},
		updates: []update{{key, "5", "6", false}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w ownWrites
			tc.write(&w)
			for i, u := range tc.updates {
				if got := w.isOwn(service(u.key, u.old), service(u.key, u.new)); got != u.want {
					t.Errorf("update %d, %s %s -> %s: isOwn = %t, want %t", i, u.key, u.old, u.new, got, u.want)
				}
			}
		})
	}
}

func service(key types.NamespacedName, rv string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: rv}}
}
