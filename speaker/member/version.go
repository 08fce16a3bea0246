package member

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ironlb/ironlb/speaker/announce"
)

// WinnerVersionsEnv is a testing knob: a comma-separated list of the
// layer-2 election versions ("1", "1,2") a speaker advertises when
// Options.WinnerVersions is empty. It lets a test play a speaker of an older
// build, which knows only version 1, and roll it to the new one. Production
// leaves it unset: a speaker then advertises every version it implements.
const WinnerVersionsEnv = "IRONLB_WINNER_VERSIONS"

// winnerVersions resolves what a speaker advertises: opts, else the
// environment, else every version this build implements.
func winnerVersions(opts []announce.WinnerVersion) ([]announce.WinnerVersion, error) {
	if len(opts) == 0 {
		env := os.Getenv(WinnerVersionsEnv)
		if env == "" {
			return announce.WinnerVersions, nil
		}
		var err error
		if opts, err = parseVersions(env); err != nil || len(opts) == 0 {
			return nil, fmt.Errorf("member: %s=%q: want a comma-separated list of election versions this build implements, among %v",
				WinnerVersionsEnv, env, announce.WinnerVersions)
		}
	}
	for _, v := range opts {
		if !slices.Contains(announce.WinnerVersions, v) {
			return nil, fmt.Errorf("member: election version %d is not implemented by this build (it has %v)", v, announce.WinnerVersions)
		}
	}
	out := slices.Clone(opts)
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parseVersions(list string) ([]announce.WinnerVersion, error) {
	var out []announce.WinnerVersion
	var bad error
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
		if err != nil || n == 0 {
			bad = fmt.Errorf("bad version %q", s)
			continue
		}
		out = append(out, announce.WinnerVersion(n))
	}
	return out, bad
}

func formatVersions(vs []announce.WinnerVersion) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.Itoa(int(v))
	}
	return strings.Join(parts, ",")
}

// WinnerVersions returns, for each member believed alive (this one
// included), the election versions it advertises; nil for a member that
// advertises none.
func (l *List) WinnerVersions() map[string][]announce.WinnerVersion {
	out := map[string][]announce.WinnerVersion{}
	for _, p := range l.peers() {
		out[p.name] = p.meta.versions
	}
	return out
}
