package servicestatus

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Action is what a write does to one ServiceAnnouncement.
type Action string

const (
	// Create makes the object, owned by its Service, then writes its status.
	Create Action = "Create"
	// Update writes the status of an existing object.
	Update Action = "Update"
	// Delete removes the object: its Service is no longer announced, or the
	// object belongs to an earlier Service of the same name.
	Delete Action = "Delete"
)

// Write is one write to the API server.
type Write struct {
	Action Action
	Key    string // "namespace/name" of the Service and the object
	// UID is the Service's for Create (its owner), the object's for
	// Update and Delete (so that a newer object of the same name is never
	// touched).
	UID    types.UID
	Status v1beta1.ServiceAnnouncementStatus // Create and Update
}

// Stored is a ServiceAnnouncement as the cache holds it.
type Stored struct {
	UID types.UID
	// Owner is the UID of the Service it belongs to; "" when it names none.
	Owner  types.UID
	Status v1beta1.ServiceAnnouncementStatus
}

// Plan returns the writes that make the stored objects say want, sorted by
// key. want holds the statuses of the announced Services this speaker
// writes, announced the keys of every announced Service, mine whether this
// speaker writes a key, services the UIDs of the Services in the cache.
// An object of a Service announced but written by another speaker is left
// to it; an object of a Service not announced is deleted by its writer.
// When everything stored is already what is wanted, Plan returns nothing.
func Plan(want map[string]v1beta1.ServiceAnnouncementStatus, announced map[string]bool, mine func(string) bool,
	stored map[string]Stored, services map[string]types.UID) []Write {
	var out []Write
	for key, st := range want {
		svc, ok := services[key]
		if !ok {
			continue // not in the cache (yet): its Service's event recomputes
		}
		cur, exists := stored[key]
		switch {
		case !exists:
			out = append(out, Write{Action: Create, Key: key, UID: svc, Status: st})
		case cur.Owner != svc:
			// A Service deleted and recreated: the old object goes (its
			// deletion recomputes, and the next decision creates anew).
			out = append(out, Write{Action: Delete, Key: key, UID: cur.UID})
		case !sameStatus(cur.Status, st):
			out = append(out, Write{Action: Update, Key: key, UID: cur.UID, Status: st})
		}
	}
	for key, cur := range stored {
		if !announced[key] && mine(key) {
			out = append(out, Write{Action: Delete, Key: key, UID: cur.UID})
		}
	}
	slices.SortFunc(out, func(a, b Write) int { return strings.Compare(a.Key, b.Key) })
	return out
}
