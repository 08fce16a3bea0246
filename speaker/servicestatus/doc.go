// Package servicestatus writes ServiceAnnouncement objects: per announced
// Service, the node answering for each address at layer 2 and the nodes
// advertising each over BGP with their peers (docs/api.md).
//
// Every speaker computes the whole cluster's decision (speaker/announce), so
// any of them can write any Service's object. Exactly one does: the writer
// of a Service is the live speaker with the highest rendezvous score for the
// Service's key, the rule announce.Winner applies to addresses. Writes thus
// spread over the nodes, and when a writer dies only its Services move to
// another writer, which rewrites an object only if what is stored differs.
//
// Cost: each decision builds the objects of this speaker's Services only
// (about 1/N of them for N live speakers) and compares them with what is
// stored, so a decision that changes nothing writes nothing. A changed
// Service costs one status write; a newly announced one a create and a
// status write; one no longer announced a delete.
//
// What is stored: the speakers cache the objects' metadata only (watched
// as protobuf, so no speaker decodes every object whole), and each keeps
// a record of what it last wrote to the objects it writes, with the
// resourceVersion the API server answered (records.go). While the cache
// shows that resourceVersion the record is what is stored. An object the
// record cannot tell (none: a restart, or Services taken over from another
// writer; or another resourceVersion: someone else wrote it) is read once
// from the API server, then recorded: a new writer reads each object it
// writes once, and writes only those that differ. Another's write to an
// object this speaker writes, or its deletion, wakes it to check again.
//
// desired.go builds the objects from the decision, plan.go decides the
// writes (pure, table-tested), writer.go picks the writer, stored.go and
// records.go tell what is stored, sync.go, sync_changed.go and write.go do
// the writes.
package servicestatus
