// Command report turns the figures bench/run.sh wrote (docs/perf/data) into
// the generated blocks of docs/performance.md and its charts (docs/perf/*.svg
// and *.png). It is its own module so the plotting library stays out of the
// server's dependencies.
//
//	cd bench/report && go run . -data ../../docs/perf/data -doc ../../docs/performance.md -charts ../../docs/perf
//
// A generated block sits between <!-- generated:NAME --> and
// <!-- /generated:NAME --> in the document; everything else is prose and is
// left alone. A block whose figures are missing is left as it is.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	data := flag.String("data", "docs/perf/data", "folder of figures written by bench/run.sh")
	doc := flag.String("doc", "docs/performance.md", "document with generated blocks")
	charts := flag.String("charts", "docs/perf", "folder for the charts")
	flag.Parse()

	blocks := map[string]string{}
	cmp, err := readCompare(filepath.Join(*data, "compare.tsv"))
	if err == nil && len(cmp) > 0 {
		env := readKV(filepath.Join(*data, "compare-env.tsv"))
		blocks["compare"] = compareBlock(cmp, env)
		blocks["fastpath"] = fastPathBlock(cmp)
		blocks["memory"] = memoryBlock(cmp)
		if err := drawCharts(cmp, *data, *charts); err != nil {
			fail(err)
		}
	} else if err != nil && !os.IsNotExist(err) {
		fail(err)
	}
	if b := startupBlock(*data); b != "" {
		blocks["startup"] = b
	}
	if b := jobsBlock(filepath.Join(*data, "jobs.txt")); b != "" {
		blocks["jobs"] = b
	}
	if t, err := os.ReadFile(filepath.Join(*data, "editpath.txt")); err == nil {
		blocks["editpath"] = "```\n" + strings.TrimRight(string(t), "\n") + "\n```\n"
	}
	if err := splice(*doc, blocks); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

// splice replaces the content of each generated block of the document.
func splice(path string, blocks map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(b)
	for name, body := range blocks {
		re := regexp.MustCompile(`(?s)(<!-- generated:` + regexp.QuoteMeta(name) + ` -->\n).*?(<!-- /generated:` + regexp.QuoteMeta(name) + ` -->)`)
		if !re.MatchString(text) {
			fmt.Fprintf(os.Stderr, "report: %s has no generated block %q; skipped\n", path, name)
			continue
		}
		text = re.ReplaceAllLiteralString(text, "<!-- generated:"+name+" -->\n"+body+"<!-- /generated:"+name+" -->")
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// point is one load point of one server: metric → value.
type key struct{ server, scenario, c string }

type figures map[key]map[string]float64

func readCompare(path string) (figures, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := figures{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if len(p) != 5 || p[4] == "" {
			continue
		}
		v, err := strconv.ParseFloat(p[4], 64)
		if err != nil {
			continue
		}
		k := key{p[0], p[1], p[2]}
		if out[k] == nil {
			out[k] = map[string]float64{}
		}
		out[k][p[3]] = v
	}
	return out, sc.Err()
}

func (f figures) get(server, scenario, c, metric string) (float64, bool) {
	m, ok := f[key{server, scenario, c}]
	if !ok {
		return 0, false
	}
	v, ok := m[metric]
	return v, ok
}

func (f figures) has(server string) bool {
	for k := range f {
		if k.server == server {
			return true
		}
	}
	return false
}

func readKV(path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok {
			out[k] = v
		}
	}
	return out
}

// The load points, in the order of the tables and charts.
var points = []struct{ scenario, c, label string }{
	{"health", "1", "GET /api/health, c=1"},
	{"health", "16", "GET /api/health, c=16"},
	{"health", "64", "GET /api/health, c=64"},
	{"providers", "16", "GET /api/providers, c=16"},
	{"edit1.5", "1", "POST /api/edit 1.5 MB, c=1"},
	{"edit1.5", "8", "POST /api/edit 1.5 MB, c=8"},
	{"edit1.5", "32", "POST /api/edit 1.5 MB, c=32"},
	{"edit8", "8", "POST /api/edit 8 MB, c=8"},
}

var serverNames = map[string]string{
	"frameforge": "FrameForge",
	"echo":       "bare handler",
	"python":     "Python (1 worker)",
	"python-2w":  "Python (2 workers)",
}

func servers(f figures) []string {
	var out []string
	for _, s := range []string{"frameforge", "echo", "python", "python-2w"} {
		if f.has(s) {
			out = append(out, s)
		}
	}
	return out
}

func num(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func cell(f figures, s, scenario, c, metric string) string {
	if v, ok := f.get(s, scenario, c, metric); ok {
		return num(v)
	}
	return "—"
}

func compareBlock(f figures, env map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s on %s cores, load average at the end of the run %s (1, 5, 15 min); %s per load point after a 1 s warm-up; bodies %s and %s bytes.",
		env["date"], env["nproc"], env["loadavg"], env["duration"], env["body_1.5"], env["body_8"])
	if env["python"] != "" {
		fmt.Fprintf(&b, " Python backend on %s.", env["python"])
	}
	b.WriteString("\n\n")
	ss := servers(f)
	b.WriteString("| load point | server | req/s | p50 ms | p95 ms | p99 ms | CPU µs / request | answers (200) |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range points {
		for _, s := range ss {
			if _, ok := f[key{s, p.scenario, p.c}]; !ok {
				continue
			}
			ans, _ := f.get(s, p.scenario, p.c, "answers")
			ok200, _ := f.get(s, p.scenario, p.c, "ok")
			answers := strconv.Itoa(int(ans))
			if ok200 != ans {
				answers = fmt.Sprintf("%d (%d)", int(ans), int(ok200))
			} else {
				answers = fmt.Sprintf("%d (all)", int(ans))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p.label, serverNames[s],
				cell(f, s, p.scenario, p.c, "rps"), cell(f, s, p.scenario, p.c, "p50"), cell(f, s, p.scenario, p.c, "p95"),
				cell(f, s, p.scenario, p.c, "p99"), cell(f, s, p.scenario, p.c, "cpu_us"), answers)
		}
	}
	if f.has("python") {
		b.WriteString("\n**FrameForge against the Python backend** (its better configuration at each point: 1 or 2 workers):\n\n")
		b.WriteString("| load point | throughput | p99 latency | CPU per request |\n| --- | ---: | ---: | ---: |\n")
		for _, p := range points {
			ffr, ok1 := f.get("frameforge", p.scenario, p.c, "rps")
			best, bs := 0.0, ""
			for _, s := range []string{"python", "python-2w"} {
				if v, ok := f.get(s, p.scenario, p.c, "rps"); ok && v > best {
					best, bs = v, s
				}
			}
			if !ok1 || bs == "" {
				continue
			}
			ffp, _ := f.get("frameforge", p.scenario, p.c, "p99")
			pyp, _ := f.get(bs, p.scenario, p.c, "p99")
			lat := "—"
			if ffp > 0 && pyp > 0 {
				lat = fmt.Sprintf("%+.0f %%", pct(ffp, pyp))
			}
			ffc, okc1 := f.get("frameforge", p.scenario, p.c, "cpu_us")
			pyc, okc2 := f.get(bs, p.scenario, p.c, "cpu_us")
			cpu := "—"
			if okc1 && okc2 && pyc > 0 {
				cpu = fmt.Sprintf("%+.0f %%", (ffc/pyc-1)*100)
			}
			fmt.Fprintf(&b, "| %s | %.1f× (%+.0f %%) | %s | %s |\n", p.label, ffr/best, (ffr/best-1)*100, lat, cpu)
		}
		b.WriteString("\nA negative percentage is less time or less CPU than Python; throughput is how many times Python's.\n")
	}
	b.WriteString("\n![Throughput by concurrency](perf/throughput.svg)\n\n![p99 latency by concurrency](perf/p99.svg)\n")
	return b.String()
}

func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return (a/b - 1) * 100
}

func fastPathBlock(f figures) string {
	var b strings.Builder
	b.WriteString("| GET /api/health | FrameForge req/s | bare handler req/s | ratio (target ≥ 0.9) | FrameForge CPU µs / req | bare CPU µs / req | bare ÷ FrameForge CPU |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, c := range []string{"1", "16", "64"} {
		fr, ok1 := f.get("frameforge", "health", c, "rps")
		er, ok2 := f.get("echo", "health", c, "rps")
		if !ok1 || !ok2 {
			continue
		}
		fc, _ := f.get("frameforge", "health", c, "cpu_us")
		ec, _ := f.get("echo", "health", c, "cpu_us")
		verdict := "pass"
		if fr/er < 0.9 {
			verdict = "missed"
		}
		cpuRatio := "—"
		if fc > 0 {
			cpuRatio = fmt.Sprintf("%.2f", ec/fc)
		}
		fmt.Fprintf(&b, "| c=%s | %s | %s | %.2f %s | %s | %s | %s |\n", c, num(fr), num(er), fr/er, verdict, num(fc), num(ec), cpuRatio)
	}
	return b.String()
}

func memoryBlock(f figures) string {
	var b strings.Builder
	b.WriteString("| server | RSS idle, before load (MiB) | peak RSS during the run (MiB) | RSS 10 s after the last load (MiB) |\n")
	b.WriteString("| --- | ---: | ---: | ---: |\n")
	for _, s := range servers(f) {
		mib := func(sc string) string {
			if v, ok := f.get(s, sc, "0", "rss_kib"); ok {
				return num(v / 1024)
			}
			return "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", serverNames[s], mib("idle"), mib("peak"), mib("after"))
	}
	b.WriteString("\n![Resident memory over the run](perf/rss.svg)\n")
	return b.String()
}

var runRE = regexp.MustCompile(`^run \d+: ([0-9.]+) ms`)

func startupRuns(path string) ([]float64, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, ""
	}
	var ms []float64
	load := ""
	for _, l := range strings.Split(string(b), "\n") {
		if m := runRE.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			ms = append(ms, v)
		}
		if strings.HasPrefix(l, "loadavg ") {
			load = strings.TrimPrefix(l, "loadavg ")
		}
	}
	slices.Sort(ms)
	return ms, load
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func startupBlock(data string) string {
	ff, load := startupRuns(filepath.Join(data, "startup-frameforge.txt"))
	if len(ff) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| server | median ms | min | max | runs | target |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
	verdict := "< 50 ms pass"
	if median(ff) >= 50 {
		verdict = fmt.Sprintf("< 50 ms missed by %.0f ms", median(ff)-50)
	}
	fmt.Fprintf(&b, "| FrameForge (new SQLite database, migrations) | %.1f | %.1f | %.1f | %d | %s |\n", median(ff), ff[0], ff[len(ff)-1], len(ff), verdict)
	if re, _ := startupRuns(filepath.Join(data, "startup-restart.txt")); len(re) > 0 {
		fmt.Fprintf(&b, "| FrameForge restarting (existing database, nothing to migrate) | %.1f | %.1f | %.1f | %d | — |\n", median(re), re[0], re[len(re)-1], len(re))
	}
	if py, _ := startupRuns(filepath.Join(data, "startup-python.txt")); len(py) > 0 {
		fmt.Fprintf(&b, "| Python backend (uvicorn, 1 worker) | %.1f | %.1f | %.1f | %d | — |\n", median(py), py[0], py[len(py)-1], len(py))
	}
	if load != "" {
		fmt.Fprintf(&b, "\nLoad average when the start-up runs ended: %s.\n", load)
	}
	return b.String()
}

// jobsBlock reads the Go benchmark output of the job path.
func jobsBlock(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	metric := map[string]map[string]float64{} // benchmark → unit → value
	load := ""
	var queued, pending string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "loadavg ") {
			load = strings.TrimPrefix(l, "loadavg ")
		}
		if i := strings.Index(l, "queued "); i >= 0 {
			queued = l[i:]
		}
		fs := strings.Fields(l)
		if len(fs) > 0 && strings.HasPrefix(fs[0], "Benchmark") {
			pending = regexp.MustCompile(`-\d+$`).ReplaceAllString(fs[0], "")
			if len(fs) < 4 || !isInt(fs[1]) {
				continue // the figures come on a line of their own (the benchmark printed first)
			}
		} else if len(fs) >= 3 && isInt(fs[0]) && pending != "" {
			fs = append([]string{pending}, fs...)
		} else {
			continue
		}
		name := pending
		pending = ""
		if metric[name] == nil {
			metric[name] = map[string]float64{}
		}
		for i := 2; i+1 < len(fs); i += 2 {
			if v, err := strconv.ParseFloat(fs[i], 64); err == nil {
				metric[name][fs[i+1]] = v
			}
		}
	}
	if len(metric) == 0 {
		return ""
	}
	get := func(bench, unit, format string) string {
		if v, ok := metric[bench][unit]; ok {
			return fmt.Sprintf(format, v)
		}
		return "—"
	}
	var w strings.Builder
	w.WriteString("| figure | SQLite | PostgreSQL | `/api/edit` |\n| --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(&w, "| submit → succeeded, one at a time (`Prefer: wait`), 640×480 photo: p50 | %s | %s | %s |\n",
		get("BenchmarkJobRoundTrip/sqlite", "p50-ms", "%.1f ms"), get("BenchmarkJobRoundTrip/postgres", "p50-ms", "%.1f ms"), get("BenchmarkEditRoundTrip", "p50-ms", "%.1f ms"))
	fmt.Fprintf(&w, "| same, p99 | %s | %s | %s |\n",
		get("BenchmarkJobRoundTrip/sqlite", "p99-ms", "%.1f ms"), get("BenchmarkJobRoundTrip/postgres", "p99-ms", "%.1f ms"), get("BenchmarkEditRoundTrip", "p99-ms", "%.1f ms"))
	fmt.Fprintf(&w, "| jobs per second through the queue (all submitted at once, 16 workers) | %s | %s | — |\n",
		get("BenchmarkJobThroughput/sqlite", "jobs/s", "%.0f"), get("BenchmarkJobThroughput/postgres", "jobs/s", "%.0f"))
	fmt.Fprintf(&w, "| heap growth with 1,000 queued jobs of a %s photo | %s (%s a job) | — | — |\n",
		get("BenchmarkQueuedJobMemory", "photo-MB", "%.1f MB"), get("BenchmarkQueuedJobMemory", "heap-growth-MB", "%+.1f MB"),
		get("BenchmarkQueuedJobMemory", "heap-B/job", "%.0f B"))
	// TestScaleFigures: real processes on PostgreSQL, Redis and an S3 fake.
	scale := regexp.MustCompile(`(\d+) replica\(s\): (\d+) jobs in \S+ = (\d+) jobs/s; submit→done p50 (\S+), p99 (\S+)`).FindAllStringSubmatch(string(b), -1)
	if len(scale) > 0 {
		w.WriteString("\nReplicas as real processes on PostgreSQL, Redis and an S3 fake (`TestScaleFigures`, docs/scaling.md): " +
			"300 one-photo jobs from 16 concurrent clients, each with `Prefer: wait`, an instant fake provider, everything on the same two cores.\n\n" +
			"| replicas | jobs/s | submit → done p50 | p99 |\n| ---: | ---: | ---: | ---: |\n")
		for _, m := range scale {
			fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", m[1], m[3], m[4], m[5])
		}
	} else {
		w.WriteString("\nThe replica figures are missing from this run (they need PostgreSQL and Redis).\n")
	}
	var failed []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`--- FAIL: (Benchmark[^\s/]+/[^\s]+?)(-\d+)?\s`).FindAllStringSubmatch(string(b)+"\n", -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			failed = append(failed, "`"+m[1]+"`")
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(&w, "\nFailed in this run, so missing above: %s (the reason is in `docs/perf/data/jobs.txt`).\n", strings.Join(failed, ", "))
	} else if _, ok := metric["BenchmarkJobRoundTrip/postgres"]; !ok {
		w.WriteString("\nPostgreSQL figures are missing from this run (no cluster could be started).\n")
	}
	if queued != "" {
		fmt.Fprintf(&w, "\n`%s`\n", queued)
	}
	if load != "" {
		fmt.Fprintf(&w, "\nLoad average when the job benchmarks started: %s.\n", load)
	}
	return w.String()
}

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}
