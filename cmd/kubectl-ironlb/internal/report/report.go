// Package report is what kubectl ironlb migrate tells the user about the
// MetalLB fields it could not carry over as they were: one Entry per field,
// naming the object, the field path, the value and why. The migration is
// complete only when every entry has been read: an entry is never a warning
// to skip.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Outcome says what became of a field.
type Outcome string

const (
	// Dropped: the field (or, when Field is empty, the whole object) is not
	// in the output.
	Dropped Outcome = "not carried over"
	// Changed: carried over, but written differently or meaning something
	// slightly different in IronLB; Reason says how.
	Changed Outcome = "changed"
	// Action: carried over, but something outside the output must be done
	// for it to work (copy a Secret, change a flag, edit a Service).
	Action Outcome = "action needed"
)

// Object names a source object: a MetalLB object, a Service, a file.
type Object struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Entry is one line of the report.
type Entry struct {
	Object Object `json:"object"`
	// Field is the path in the source object ("spec.bfdProfile"); empty
	// for the object as a whole.
	Field string `json:"field,omitempty"`
	// Value is the field's value as the source had it, rendered.
	Value   string  `json:"value,omitempty"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
}

func (e Entry) String() string {
	var b strings.Builder
	b.WriteString(e.Object.String())
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, " = %s", e.Value)
	}
	fmt.Fprintf(&b, ": %s: %s", e.Outcome, e.Reason)
	return b.String()
}

// Report collects entries. The zero value is ready to use.
type Report struct {
	Entries []Entry `json:"entries"`
}

// Add appends an entry; value is rendered with %v, quoted when a string.
func (r *Report) Add(obj Object, field string, value any, outcome Outcome, reason string) {
	r.Entries = append(r.Entries, Entry{Object: obj, Field: field, Value: Render(value), Outcome: outcome, Reason: reason})
}

// Render writes a field value as the report shows it: strings quoted, nil
// and empty values as nothing.
func Render(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if v == "" {
			return ""
		}
		return fmt.Sprintf("%q", v)
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprintf("%v", v)
	}
}

// Sorted returns the entries ordered by object, then field, so that two runs
// over the same input print the same report.
func (r *Report) Sorted() []Entry {
	out := slices.Clone(r.Entries)
	slices.SortStableFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Object.Kind, b.Object.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.Object.Namespace, b.Object.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Object.Name, b.Object.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Field, b.Field)
	})
	return out
}

// Count returns how many entries have the outcome.
func (r *Report) Count(o Outcome) int {
	n := 0
	for _, e := range r.Entries {
		if e.Outcome == o {
			n++
		}
	}
	return n
}

// WriteText writes one line per entry, sorted, then a summary line.
func (r *Report) WriteText(w io.Writer) error {
	for _, e := range r.Sorted() {
		if _, err := fmt.Fprintln(w, e.String()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d not carried over, %d changed, %d needing action\n",
		r.Count(Dropped), r.Count(Changed), r.Count(Action))
	return err
}
