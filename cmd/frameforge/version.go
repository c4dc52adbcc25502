package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at link time by release builds (the Dockerfile, .github/workflows):
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD) -X main.date=$(date -u +%FT%TZ)"
//
// Left empty, they come from the build information Go stamps into every
// binary (the module version, and the VCS revision and commit time when
// built inside a git checkout).
var (
	version string
	commit  string
	date    string
)

// buildVersion is what `frameforge version` prints and start-up logs.
type buildVersion struct {
	Version  string // v1.2.3, a pseudo-version, or "(devel)"
	Commit   string // VCS revision, "" when unknown
	Modified bool   // built from a work tree with uncommitted changes
	Date     string // build date (from -ldflags), "" when unknown
	Commited string // commit time from the VCS stamp, when Date is unknown
	Go       string // toolchain and platform
}

func readVersion() buildVersion {
	v := buildVersion{Version: "(devel)", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.Commited = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		v.Version = version
	}
	if commit != "" {
		v.Commit, v.Modified = commit, false
	}
	v.Date = date
	return v
}

// String is one line: frameforge v1.2.3 (commit 0123abcd…, built 2026-…, go1.26 linux/amd64).
func (v buildVersion) String() string {
	var parts []string
	switch c := v.Commit; {
	case c == "":
		parts = append(parts, "commit unknown")
	case v.Modified:
		parts = append(parts, "commit "+c+" with uncommitted changes")
	default:
		parts = append(parts, "commit "+c)
	}
	switch {
	case v.Date != "":
		parts = append(parts, "built "+v.Date)
	case v.Commited != "":
		parts = append(parts, "committed "+v.Commited+", build date unknown")
	default:
		parts = append(parts, "build date unknown")
	}
	parts = append(parts, v.Go)
	return fmt.Sprintf("frameforge %s (%s)", v.Version, strings.Join(parts, ", "))
}
