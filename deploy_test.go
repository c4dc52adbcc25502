package frameforge_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"frameforge"
)

// section returns the text of a "## " section of a Markdown file.
func section(t *testing.T, file, heading string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no section %q", file, heading)
	}
	text = text[i+len(heading)+2:]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	return text
}

// Every error code a client can get has a row in docs/deploy.md's
// troubleshooting table saying what to do about it.
func TestTroubleshootingCoversEveryCode(t *testing.T) {
	text := section(t, "docs/deploy.md", "## Troubleshooting")
	for _, code := range frameforge.Codes() {
		if !regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(code) + "` \\| \\d{3} \\| .{20,}").MatchString(text) {
			t.Errorf("docs/deploy.md, Troubleshooting: no row `%s` | status | what to do", code)
		}
	}
}

// compose.yaml: the one-machine service with a volume and a health check,
// and the scaled profile wired to PostgreSQL, Redis and S3 with shared
// secrets; every variable it interpolates or passes to the server is
// documented.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string
			Profiles    []string
			Environment map[string]string
			Volumes     []string
			Healthcheck struct{ Test []string }
			Deploy      struct{ Replicas int }
			DependsOn   any `yaml:"depends_on"`
		}
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	single, ok := c.Services["frameforge"]
	if !ok || len(single.Profiles) != 0 {
		t.Fatalf("compose.yaml: want a service frameforge in no profile; got %+v", single)
	}
	if !strings.Contains(strings.Join(single.Healthcheck.Test, " "), "frameforge healthcheck") ||
		len(single.Volumes) != 1 || !strings.HasSuffix(single.Volumes[0], ":/data") {
		t.Errorf("frameforge service: healthcheck %v, volumes %v; want frameforge healthcheck and a volume on /data",
			single.Healthcheck.Test, single.Volumes)
	}
	app := c.Services["app"]
	if app.Deploy.Replicas < 2 || !strings.Contains(strings.Join(app.Healthcheck.Test, " "), "frameforge healthcheck") {
		t.Errorf("app service: %d replicas, healthcheck %v; want replicas and the health check", app.Deploy.Replicas, app.Healthcheck.Test)
	}
	for k, prefix := range map[string]string{"DATABASE_URL": "postgres://", "REDIS_URL": "redis://", "STORAGE_URL": "s3://",
		"SECRET_KEY": "${SECRET_KEY", "WEBHOOK_SECRET": "${WEBHOOK_SECRET", "TRUSTED_PROXIES": ""} {
		if v, ok := app.Environment[k]; !ok || !strings.HasPrefix(v, prefix) {
			t.Errorf("app service: %s = %q; want it set (%s…)", k, v, prefix)
		}
	}
	for _, name := range []string{"app", "postgres", "redis", "storage", "lb"} {
		if s, ok := c.Services[name]; !ok || len(s.Profiles) != 1 || s.Profiles[0] != "scaled" {
			t.Errorf("service %s: want it in the profile scaled; got %+v", name, s.Profiles)
		}
	}

	reference := section(t, "docs/deploy.md", "## Environment reference")
	header := string(b[:strings.Index(string(b), "\nname:")])
	for _, svc := range []string{"frameforge", "app"} {
		for k := range c.Services[svc].Environment {
			if !strings.Contains(reference, "`"+k+"`") {
				t.Errorf("compose.yaml passes %s to the server; docs/deploy.md's environment reference does not document it", k)
			}
		}
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)`).FindAllStringSubmatch(string(b), -1) {
		if !strings.Contains(reference, "`"+m[1]+"`") && !regexp.MustCompile(`(?m)^#\s+`+m[1]+`\b`).MatchString(header) &&
			!strings.Contains(header, m[1]+",") {
			t.Errorf("compose.yaml uses ${%s}, documented neither in its header nor in docs/deploy.md", m[1])
		}
	}
}

// The GitHub workflows pass actionlint (a Go module, pinned; built once
// into the module cache).
func TestWorkflowsPassActionlint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds actionlint")
	}
	out, err := exec.Command("go", "run", "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12", "-no-color").CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}
