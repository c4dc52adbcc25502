package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"frameforge/internal/auth"
	"frameforge/internal/config"
	"frameforge/internal/jobs"
	"frameforge/internal/ratelimit"
)

const tokensUsage = `usage:
  frameforge tokens create --name NAME [--rate 100/h] [--quota N] [--period day|month] [--expires 90d]
  frameforge tokens list
  frameforge tokens revoke ID`

// runTokens is "frameforge tokens …": API tokens, managed in the same
// database as the server's (DATABASE_URL, or the SQLite file in DATA_DIR),
// so a running server sees a change on its next request.
func runTokens(ctx context.Context, c config.Jobs, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(tokensUsage)
	}
	db, kind, err := jobs.OpenDB(ctx, string(c.DatabaseURL), c.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := auth.Open(ctx, db, kind)
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		return createToken(ctx, store, args[1:], stdout, stderr)
	case "list":
		return listTokens(ctx, store, stdout)
	case "revoke":
		if len(args) != 2 {
			return errors.New("tokens revoke: give exactly one token id (see frameforge tokens list)")
		}
		if err := store.Revoke(ctx, args[1]); errors.Is(err, auth.ErrNotFound) {
			return fmt.Errorf("tokens revoke: no token with id %q (see frameforge tokens list)", args[1])
		} else if err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "revoked %s\n", args[1])
		return err
	}
	return fmt.Errorf("unknown tokens command %q\n%s", args[0], tokensUsage)
}

func createToken(ctx context.Context, store *auth.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokens create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "who or what the token is for (required)")
	rate := fs.String("rate", "", "its own edit rate, replacing RATE_LIMIT_EDIT: N/s, N/m, N/h, N/d")
	quota := fs.Int64("quota", auth.NoQuota, "successful edits allowed per period (default: unlimited)")
	period := fs.String("period", "month", "what the quota counts over: month or day (calendar, UTC)")
	expires := fs.String("expires", "", "lifetime, such as 90d or 720h (default: never expires)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n := auth.NewToken{Name: strings.TrimSpace(*name), Quota: *quota}
	var errs []error
	if n.Name == "" {
		errs = append(errs, errors.New("--name: required"))
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *rate != "" {
		r, err := ratelimit.ParseRule(*rate)
		if err != nil || r.Off() {
			errs = append(errs, fmt.Errorf("--rate: want N/period such as 100/h, got %q", *rate))
		}
		n.Rate = r
	}
	if n.Quota < 0 && n.Quota != auth.NoQuota {
		errs = append(errs, errors.New("--quota: must be 0 or more"))
	}
	var err error
	if n.Period, err = auth.ParsePeriod(*period); err != nil {
		errs = append(errs, fmt.Errorf("--period: %w", err))
	}
	if *expires != "" {
		if n.Expires, err = parseLifetime(*expires); err != nil {
			errs = append(errs, fmt.Errorf("--expires: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tokens create: %w", err)
	}
	t, secret, err := store.Create(ctx, n)
	if err != nil {
		return err
	}
	// The secret alone on its line, for scripts; the reminder on stderr.
	fmt.Fprintln(stderr, "The token is shown this once; only its hash is stored. Give it to the client now:")
	_, err = fmt.Fprintf(stdout, "%s\nid: %s\n", secret, t.ID)
	return err
}

// parseLifetime reads "90d" (days) or a Go duration ("720h").
func parseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("want a number of days such as 90d, got %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want days (90d) or a duration (720h), got %q", s)
	}
	return d, nil
}

func listTokens(ctx context.Context, store *auth.Store, stdout io.Writer) error {
	list, err := store.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED\tRATE\tQUOTA\tUSED THIS PERIOD\tEXPIRES\tSTATUS")
	day := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	now := time.Now()
	for _, t := range list {
		rate, quota := "RATE_LIMIT_EDIT", "unlimited"
		if !t.Rate.Off() {
			rate = fmt.Sprintf("%d/%s", t.Rate.Limit, t.Rate.PeriodName())
		}
		if t.Quota != auth.NoQuota {
			quota = fmt.Sprintf("%d/%s", t.Quota, t.Period)
		}
		status := "active"
		switch {
		case !t.Revoked.IsZero():
			status = "revoked " + day(t.Revoked)
		case !t.Expires.IsZero() && !now.Before(t.Expires):
			status = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.ID, t.Name, day(t.Created), day(t.LastUsed), rate, quota, t.Used, day(t.Expires), status)
	}
	return tw.Flush()
}
