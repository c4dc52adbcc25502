package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"frameforge/internal/blobstore/s3test"
	"frameforge/internal/pgtest"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/redistest"
)

// replica is one running server process of a group.
type replica struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	fake *geminitest.Server // its own Gemini: which replica ran a call is known
}

// startReplicas starts n server processes at the same moment, each with its
// own Gemini fake and the shared env, and waits until all listen.
func startReplicas(t *testing.T, n int, delay time.Duration, env ...string) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	chans := make([]<-chan string, n)
	for i := range rs {
		fake := geminitest.NewServer(t)
		fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: delay})
		e := append([]string{"GOOGLE_API_KEY=" + fake.Key, "GEMINI_BASE_URL=" + fake.URL}, env...)
		cmd, ch, logs := spawnBinary(t, e...)
		rs[i], chans[i] = &replica{cmd: cmd, logs: logs, fake: fake}, ch
	}
	for i, r := range rs {
		select {
		case r.addr = <-chans[i]:
		case <-time.After(60 * time.Second):
			t.Fatalf("replica %d never listened:\n%s", i, r.logs)
		}
	}
	return rs
}

// groupEnv is the configuration replicas share: PostgreSQL (an empty
// database), Redis, one S3 bucket, one server secret.
func groupEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	db := pgtest.FreshDatabase(t)
	rdb := redistest.URL(t)
	s3 := s3test.New(t)
	none := filepath.Join(t.TempDir(), "none")
	return append([]string{
		"DATABASE_URL=" + db, "REDIS_URL=" + rdb, "STORAGE_URL=" + s3.StorageURL(),
		"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=test-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"SECRET_KEY=" + strings.Repeat("5e", 32),
		"WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		// The client is named by X-Forwarded-For, so each run of the test
		// spends budgets of its own in the shared Redis.
		"TRUSTED_PROXIES=127.0.0.1/32",
	}, extra...)
}

// randomClient is a client address no other run of the test uses.
func randomClient() string {
	return fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
}

// postPhoto posts a one-photo edit or job; a failed connection is a zero
// response (it may run in a goroutine).
func postPhoto(t *testing.T, addr, path, client, prompt string, prefer ...string) (*http.Response, []byte) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "room.png")
	fw.Write(tinyPNG)
	mw.WriteField("prompt", prompt)
	mw.Close()
	req, _ := http.NewRequest("POST", "http://"+addr+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-Forwarded-For", client)
	for _, p := range prefer {
		req.Header.Set("Prefer", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s on %s: %v", path, addr, err)
		return &http.Response{}, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type jobView struct {
	ID, Status string
	Results    []struct{ URL string }
	Error      *struct{ Code, Detail string }
}

func getJob(t *testing.T, addr, id string) jobView {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/jobs/" + id)
	if err != nil {
		t.Fatalf("GET job on %s: %v", addr, err)
	}
	defer resp.Body.Close()
	var j jobView
	_ = json.NewDecoder(resp.Body).Decode(&j)
	return j
}

func terminal(status string) bool {
	return status == "succeeded" || status == "failed" || status == "cancelled"
}

// stamped is an event's status and when it arrived.
type stamped struct {
	status string
	at     time.Time
}

// follow reads a job's event stream on addr until it ends, sending each
// status as it arrives.
func follow(addr, id string) (<-chan stamped, error) {
	resp, err := http.Get("http://" + addr + "/api/jobs/" + id + "/events")
	if err != nil {
		return nil, err
	}
	out := make(chan stamped, 16)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var j jobView
				if json.Unmarshal([]byte(data), &j) == nil {
					out <- stamped{j.Status, time.Now()}
				}
			}
		}
	}()
	return out, nil
}

// inFlight reports whether the fake is answering a call right now.
func inFlight(rs []geminitest.Request) bool {
	for _, r := range rs {
		if r.Status == 0 && !r.Cancelled {
			return true
		}
	}
	return false
}

// TestBinaryReplicas runs three real server processes at once on an empty
// PostgreSQL database, with Redis and an S3-compatible store, and checks
// what several replicas promise (docs/scaling.md): all come up; an edit
// budget of 6 a minute holds across the three together; jobs and edits
// spread over them all finish although one replica is killed with SIGKILL
// mid-job; events of a job are followed from any replica; a cancel through
// one replica stops the provider call on the one running it.
func TestBinaryReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three")
	}
	env := groupEnv(t, "RATE_LIMIT_EDIT=6/m", "RATE_LIMIT_DEFAULT=off", "JOB_WORKERS=1",
		"JOB_RESCUE_AFTER=4s", "JOB_RETRY_BACKOFF=100ms", "LOG_LEVEL=info")
	rs := startReplicas(t, 3, 1500*time.Millisecond, env...)
	dump := func() string {
		var b strings.Builder
		for i, r := range rs {
			fmt.Fprintf(&b, "--- replica %d (%s):\n%s", i, r.addr, r.logs)
		}
		return b.String()
	}

	start := time.Now()
	// Synchronous edits, one per replica.
	var edits sync.WaitGroup
	for i := range 3 {
		edits.Go(func() {
			resp, body := postPhoto(t, rs[i].addr, "/api/edit", randomClient(), "edit")
			if resp.StatusCode != 200 || len(body) == 0 {
				t.Errorf("edit on replica %d = %d", i, resp.StatusCode)
			}
		})
	}
	edits.Wait()

	// The edit budget, 6 a minute, across the three: 6 jobs accepted
	// round-robin, then each replica refuses the 7th, 8th, 9th.
	client := randomClient()
	var ids []string
	for i := range 9 {
		resp, body := postPhoto(t, rs[i%3].addr, "/api/jobs", client, fmt.Sprintf("job %d", i))
		switch {
		case i < 6 && resp.StatusCode == http.StatusAccepted:
			var j jobView
			_ = json.Unmarshal(body, &j)
			ids = append(ids, j.ID)
		case i >= 6 && resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "" &&
			resp.Header.Get("RateLimit-Limit") == "6" && resp.Header.Get("RateLimit-Remaining") == "0":
		default:
			t.Fatalf("job request %d on replica %d = %d %s; want 6 accepted, then 429 with Retry-After (limit 6 across all)\n%s",
				i, i%3, resp.StatusCode, body, dump())
		}
	}
	// Kill replica 0 with SIGKILL while it runs a job.
	if !rs[0].fake.WaitFor(30*time.Second, inFlight) {
		t.Fatalf("replica 0 never ran a job\n%s", dump())
	}
	if err := rs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = rs[0].cmd.Wait()
	t.Logf("%s: replica 0 killed mid-job", time.Since(start))
	live := rs[1:]

	// Every job ends succeeded, the one cut off on replica 0 included (run
	// again elsewhere after JOB_RESCUE_AFTER).
	deadline := time.Now().Add(90 * time.Second)
	for _, id := range ids {
		var j jobView
		for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if j = getJob(t, live[rand.IntN(2)].addr, id); terminal(j.Status) {
				break
			}
		}
		if j.Status != "succeeded" || len(j.Results) != 1 {
			t.Fatalf("job %s after replica 0 died = %+v; want succeeded with 1 result\n%s", id, j, dump())
		}
	}

	t.Logf("%s: every job succeeded", time.Since(start))

	// A token's quota holds across the replicas together: 9 edits at once,
	// spread over both live replicas, against a quota of 4 → exactly 4 run.
	// And a token revoked with the CLI is refused by every replica at once.
	cli := func(args ...string) string {
		cmd := exec.Command(binPath, append([]string{"tokens"}, args...)...)
		cmd.Dir, cmd.Env = t.TempDir(), env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tokens %v: %v", args, err)
		}
		return string(out)
	}
	lines := strings.Split(strings.TrimSpace(cli("create", "--name", "replicas", "--quota", "4")), "\n")
	secret, tokenID := lines[0], strings.TrimPrefix(lines[len(lines)-1], "id: ")
	withToken := func(addr string) int {
		resp, err := editWithToken(addr, secret)
		if err != nil {
			t.Errorf("edit on %s: %v", addr, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var quota sync.WaitGroup
	for i := range 9 {
		quota.Go(func() {
			c := withToken(live[i%2].addr)
			mu.Lock()
			codes[c]++
			mu.Unlock()
		})
	}
	quota.Wait()
	if codes[200] != 4 || codes[429] != 5 {
		t.Errorf("9 edits against a quota of 4 over two replicas: %v; want 4×200 and 5×429\n%s", codes, dump())
	}
	cli("revoke", tokenID)
	for i, r := range live {
		if c := withToken(r.addr); c != 401 {
			t.Errorf("edit on live replica %d after the token was revoked = %d; want 401", i, c)
		}
	}
	t.Logf("%s: quota and revocation held across replicas", time.Since(start))

	// Events of a job followed from both live replicas: the one not running
	// it sees running and the end as promptly as the one that does.
	resp, body := postPhoto(t, live[0].addr, "/api/jobs", randomClient(), "followed")
	var j jobView
	_ = json.Unmarshal(body, &j)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit = %d %s", resp.StatusCode, body)
	}
	var streams []<-chan stamped
	for _, r := range live {
		ch, err := follow(r.addr, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, ch)
	}
	var ends []time.Time
	for i, ch := range streams {
		var seen []string
		var end time.Time
		for ev := range ch {
			seen = append(seen, ev.status)
			end = ev.at
		}
		if len(seen) == 0 || seen[len(seen)-1] != "succeeded" || !strings.Contains(strings.Join(seen, " "), "running") {
			t.Errorf("events on live replica %d = %v; want running, then succeeded", i, seen)
		}
		ends = append(ends, end)
	}
	if len(ends) == 2 {
		if d := ends[0].Sub(ends[1]).Abs(); d > time.Second {
			t.Errorf("the two replicas saw the end %s apart; want both within a second", d)
		}
	}

	t.Logf("%s: events followed", time.Since(start))

	// A cancel through the replica that does not run the job.
	before := []int{len(live[0].fake.Requests()), len(live[1].fake.Requests())}
	for _, r := range live {
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 30 * time.Second})
	}
	_, body = postPhoto(t, live[0].addr, "/api/jobs", randomClient(), "cancel me")
	_ = json.Unmarshal(body, &j)
	runner := -1
	for wait := time.Now().Add(30 * time.Second); runner < 0 && time.Now().Before(wait); time.Sleep(50 * time.Millisecond) {
		for i, r := range live {
			if len(r.fake.Requests()) > before[i] {
				runner = i
			}
		}
	}
	if runner < 0 {
		t.Fatalf("the job to cancel never reached a provider\n%s", dump())
	}
	other := live[1-runner]
	req, _ := http.NewRequest("DELETE", "http://"+other.addr+"/api/jobs/"+j.ID, nil)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dbody, _ := io.ReadAll(dresp.Body)
	dresp.Body.Close()
	if dresp.StatusCode != 200 || !strings.Contains(string(dbody), `"status":"cancelled"`) {
		t.Fatalf("cancel through the other replica = %d %s", dresp.StatusCode, dbody)
	}
	if !live[runner].fake.WaitFor(3*time.Second, func(rs []geminitest.Request) bool { return rs[len(rs)-1].Cancelled }) {
		t.Errorf("the provider call on the replica running the job was not cancelled within 3 s\n%s", dump())
	}
}

// TestScaleFigures prints jobs per second and the p99 of submit → done for
// one replica and for three, with an instant fake provider (docs/scaling.md).
// On one small machine this measures what coordinating through PostgreSQL
// costs, not how far replicas scale. Run it with:
//
//	FRAMEFORGE_SCALE_FIGURES=1 go test -run TestScaleFigures -v ./cmd/frameforge
func TestScaleFigures(t *testing.T) {
	if os.Getenv("FRAMEFORGE_SCALE_FIGURES") == "" {
		t.Skip("prints figures; set FRAMEFORGE_SCALE_FIGURES=1")
	}
	const jobs, clients = 300, 16
	for _, n := range []int{1, 3} {
		env := groupEnv(t, "RATE_LIMIT_EDIT=off", "RATE_LIMIT_DEFAULT=off")
		rs := startReplicas(t, n, 0, env...)
		// Warm up: connections, the first fetch.
		for _, r := range rs {
			postPhoto(t, r.addr, "/api/jobs", randomClient(), "warm")
		}
		lat := make([]time.Duration, jobs)
		var next sync.Mutex
		i := 0
		start := time.Now()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for {
					next.Lock()
					k := i
					i++
					next.Unlock()
					if k >= jobs {
						return
					}
					t0 := time.Now()
					resp, body := postPhoto(t, rs[k%n].addr, "/api/jobs", randomClient(), "figure", "wait=60")
					var j jobView
					_ = json.Unmarshal(body, &j)
					if resp.StatusCode != 200 || j.Status != "succeeded" {
						t.Errorf("job %d = %d %s", k, resp.StatusCode, j.Status)
						return
					}
					lat[k] = time.Since(t0)
				}
			})
		}
		wg.Wait()
		total := time.Since(start)
		slices.Sort(lat)
		t.Logf("%d replica(s): %d jobs in %s = %.0f jobs/s; submit→done p50 %s, p99 %s",
			n, jobs, total.Round(time.Millisecond), float64(jobs)/total.Seconds(),
			lat[jobs/2].Round(time.Millisecond), lat[jobs*99/100].Round(time.Millisecond))
		for _, r := range rs {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			_ = r.cmd.Wait()
		}
	}
}
