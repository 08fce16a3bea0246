package validation

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// MaxCommunityAliasLength bounds a Community alias name (and its schema's
// maxLength).
const MaxCommunityAliasLength = 63

// aliasName is the form of an alias name, as the schema's pattern says it.
// MetalLB's documented aliases ("NO_ADVERTISE") fit.
var aliasName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ValidateCommunityAliasName checks the name of a Community alias: 1 to 63
// letters, digits, '-', '_' and '.', starting with a letter or digit (so
// it can never be read as a community value, which has a ':'), and not a
// well-known community name in any case (whose meaning is fixed). The
// error says why, as a field detail.
func ValidateCommunityAliasName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > MaxCommunityAliasLength:
		return fmt.Errorf("must be at most %d characters long", MaxCommunityAliasLength)
	case !aliasName.MatchString(name):
		return errors.New("must consist of letters, digits, '-', '_' and '.', and start with a letter or digit")
	}
	if _, known := WellKnownCommunity(name); known {
		return errors.New("is a well-known community name, whose value is fixed")
	}
	return nil
}

// ValidateCommunityAliasValue checks the value of a Community alias: a
// standard community "a:b" or a large one "large:a:b:c", as
// [ValidateCommunity] reads them. A name is no value: an alias cannot stand
// for a well-known name or another alias.
func ValidateCommunityAliasValue(value string) error {
	if !strings.Contains(value, ":") {
		return errors.New(`want a standard community "a:b" or a large one "large:a:b:c"`)
	}
	return ValidateCommunity(value)
}

// ValidateCommunityAliases checks a Community object against the others
// that exist (others may hold c itself, matched by name, which is
// skipped): each alias has a valid name and value, and no name is defined
// twice, in c or in another Community object, since an advertisement
// naming it would not know which value it means.
func ValidateCommunityAliases(c *v1beta1.Community, others []v1beta1.Community) field.ErrorList {
	path := field.NewPath("spec", "communities")
	definedBy := map[string]string{}
	for i := range others {
		if others[i].Name == c.Name {
			continue
		}
		for _, a := range others[i].Spec.Communities {
			if _, seen := definedBy[a.Name]; !seen {
				definedBy[a.Name] = others[i].Name
			}
		}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, a := range c.Spec.Communities {
		p := path.Index(i)
		if err := ValidateCommunityAliasName(a.Name); err != nil {
			errs = append(errs, field.Invalid(p.Child("name"), a.Name, err.Error()))
		}
		if err := ValidateCommunityAliasValue(a.Value); err != nil {
			errs = append(errs, field.Invalid(p.Child("value"), a.Value, err.Error()))
		}
		switch other, taken := definedBy[a.Name]; {
		case seen[a.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), a.Name))
		case taken:
			e := field.Duplicate(p.Child("name"), a.Name)
			e.Detail = fmt.Sprintf("Community %q already defines this alias; an alias name is unique across all Community objects", other)
			errs = append(errs, e)
		}
		seen[a.Name] = true
	}
	return errs
}

// CommunityAliases returns the aliases communities define, name to value,
// for [ResolveCommunities]. A name defined more than once with different
// values (which admission refuses) is left out: an advertisement naming it
// is refused rather than announced with a value picked at random.
func CommunityAliases(communities []v1beta1.Community) map[string]string {
	out := map[string]string{}
	ambiguous := map[string]bool{}
	for i := range communities {
		for _, a := range communities[i].Spec.Communities {
			if v, seen := out[a.Name]; seen && v != a.Value {
				ambiguous[a.Name] = true
			}
			out[a.Name] = a.Value
		}
	}
	for name := range ambiguous {
		delete(out, name)
	}
	return out
}
