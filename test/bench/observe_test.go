//go:build envtest

package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sample is what the controller process has done so far: CPU, peak RSS and
// the counters its metrics endpoint serves.
type sample struct {
	user, system time.Duration // CPU
	rssKiB       int64
	counters     map[string]float64 // by series, as exposed: name{labels}
}

func (p *controllerProcess) sample(b *testing.B) sample {
	b.Helper()
	user, system, rss := procStats(p.cmd.Process.Pid)
	counters, err := scrape(p.metrics + "/metrics")
	if err != nil {
		b.Fatalf("reading the controller's metrics: %v", err)
	}
	return sample{user: user, system: system, rssKiB: rss, counters: counters}
}

// sampleAfterEvents samples the controller once it has written, since
// before, one Event per Service (its only POSTs), or after a minute: it
// writes them in the background, and they are part of what each Service
// costs, however late they go.
func (p *controllerProcess) sampleAfterEvents(b *testing.B, before sample, n int) sample {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := p.sample(b)
		posts := sumBy(before.counters, s.counters, "rest_client_requests_total", "method")["POST"]
		if posts >= float64(n) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads the Prometheus text format served at url into a map from
// series (name{labels}) to value.
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url) //nolint:gosec // the bench's own controller, on the loopback
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for s.Scan() {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, s.Err()
}

// sumBy adds up, over the series of metric name that grew from before to
// after, the growth, grouped by the value of label.
func sumBy(before, after map[string]float64, name, label string) map[string]float64 {
	out := map[string]float64{}
	for series, v := range after {
		if !strings.HasPrefix(series, name+"{") {
			continue
		}
		if d := v - before[series]; d != 0 {
			out[labelValue(series, label)] += d
		}
	}
	return out
}

// labelValue returns the value of label in a series name{a="x",b="y"}.
func labelValue(series, label string) string {
	_, rest, ok := strings.Cut(series, label+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// perService renders counts divided by n, largest first: "PATCH 1.00, GET 0.10".
func perService(counts map[string]float64, n int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, counts[k]/float64(n)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// serverCPU is the CPU kube-apiserver and etcd, the children envtest
// started, used so far: what the API side pays for every request.
func serverCPU() time.Duration {
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		open, closing := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		comm := string(stat[open+1 : closing])
		f := strings.Fields(string(stat[closing+1:]))
		if ppid, _ := strconv.Atoi(f[1]); ppid != os.Getpid() || (comm != "kube-apiserver" && comm != "etcd") {
			continue
		}
		user, system, _ := procStats(pid)
		total += user + system
	}
	return total
}

// cpuProfile records the controller's CPU profile, in chunks of five seconds
// taken back to back from its /debug/pprof/profile, into files that
// `go tool pprof` merges when given together. It runs only when
// IRONLB_BENCH_CPUPROFILE names a directory.
type cpuProfile struct {
	stop, done chan struct{}
	pattern    string
}

func startCPUProfile(b *testing.B, p *controllerProcess, label string) *cpuProfile {
	b.Helper()
	dir := os.Getenv("IRONLB_BENCH_CPUPROFILE")
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	prof := &cpuProfile{stop: make(chan struct{}), done: make(chan struct{}), pattern: filepath.Join(dir, label+"-cpu-*.pb.gz")}
	go func() {
		defer close(prof.done)
		for k := 0; ; k++ {
			if err := fetch(p.pprof+"/debug/pprof/profile?seconds=5", filepath.Join(dir, fmt.Sprintf("%s-cpu-%03d.pb.gz", label, k))); err != nil {
				b.Errorf("CPU profile: %v", err)
				return
			}
			select {
			case <-prof.stop:
				return
			default:
			}
		}
	}()
	return prof
}

// finish waits for the chunk under way, saves the allocations profile too,
// and returns how to read them ("" when not profiling).
func (prof *cpuProfile) finish(b *testing.B, p *controllerProcess) string {
	b.Helper()
	if prof == nil {
		return ""
	}
	close(prof.stop)
	<-prof.done
	allocs := strings.Replace(prof.pattern, "-cpu-*", "-allocs", 1)
	if err := fetch(p.pprof+"/debug/pprof/allocs", allocs); err != nil {
		b.Errorf("allocations profile: %v", err)
	}
	return fmt.Sprintf("go tool pprof -top '%s'; go tool pprof -sample_index=alloc_space -top %s", prof.pattern, allocs)
}

func fetch(url, path string) error {
	resp, err := http.Get(url) //nolint:gosec // the bench's own controller, on the loopback
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
