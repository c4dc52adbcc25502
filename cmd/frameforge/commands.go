package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"frameforge/internal/config"
)

// command is one subcommand: `frameforge <name> [args]`. With no command
// the binary runs the server.
type command struct {
	name    string
	args    string // the arguments it takes, for the usage text ("" = none)
	summary string
	run     func(inv invocation) error
}

// invocation is what a subcommand gets: its own arguments (after its name),
// the configuration read the way the server reads it (the environment and
// the env file; loaded only when asked for, so `version` works with a broken
// configuration), and the output streams.
type invocation struct {
	ctx    context.Context
	args   []string
	config func() (config.Config, error)
	stdout io.Writer
	stderr io.Writer
}

// commands is the table of subcommands, in the order the usage text lists
// them. A new subcommand is one entry here and a function in a file of its own.
func commands() []command {
	return []command{
		{name: "version", summary: "print the version, commit and build date", run: versionCommand},
		{name: "healthcheck", args: "[-timeout D]",
			summary: "exit 0 when the server configured here answers GET /api/ready with 200, 1 otherwise (a container health check that needs no shell or curl)",
			run:     healthcheckCommand},
		{name: "webhook-secret", summary: "print the secret webhook deliveries are signed with (WEBHOOK_SECRET, or the one generated into DATA_DIR)",
			run: webhookSecretCommand},
		{name: "tokens", args: "create|list|revoke …",
			summary: "manage API tokens in the server's database (DATABASE_URL or DATA_DIR): create --name N [--rate 100/h] [--quota N] [--period day|month] [--expires 90d], list, revoke ID",
			run:     tokensCommand},
	}
}

// usageError is a command line that is not understood: main prints the
// usage with it and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// printUsage writes the usage text: the flags, the commands, and where every
// environment variable is documented (configuration is the environment,
// not flags).
func printUsage(w io.Writer, fset *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: frameforge [flags] [command]

With no command, frameforge runs the server: the API under /api, the staging
page at /, on SERVER_HOST:SERVER_PORT (default 127.0.0.1:8000).

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nFlags (before the command):\n")
	fset.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "  -%s\t%s%s\n", f.Name, f.Usage, def)
	})
	fmt.Fprintf(w, `  -h, -help	print this help

Everything else is configured with environment variables (or the env file;
the real environment wins). Every variable, its meaning and its default is in
the environment reference: docs/deploy.md, "Environment reference"
(also the README's "Configuration"); .env.example is a commented template.
`)
}

// noArgs refuses stray arguments to a command that takes none.
func noArgs(inv invocation, name string) error {
	if len(inv.args) > 0 {
		return usagef("%s takes no arguments, got %q", name, strings.Join(inv.args, " "))
	}
	return nil
}

func versionCommand(inv invocation) error {
	if err := noArgs(inv, "version"); err != nil {
		return err
	}
	_, err := fmt.Fprintln(inv.stdout, readVersion().String())
	return err
}

func webhookSecretCommand(inv invocation) error {
	if err := noArgs(inv, "webhook-secret"); err != nil {
		return err
	}
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	return printWebhookSecret(cfg.Jobs, inv.stdout)
}

// subFlags is a subcommand's own flag set. Parse it with parseSub.
func subFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("frameforge "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseSub reports
	fs.Usage = func() {}
	return fs
}

// parseSub parses a subcommand's arguments: a bad flag or a positional
// argument is a usage error; -h prints the command's flags to stdout and
// returns flag.ErrHelp, which run treats as success.
func parseSub(fs *flag.FlagSet, inv invocation) error {
	if err := fs.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(inv.stdout, "Usage: %s [flags]\n", fs.Name())
			fs.SetOutput(inv.stdout)
			fs.PrintDefaults()
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s takes no positional arguments, got %q", fs.Name(), strings.Join(fs.Args(), " "))
	}
	return nil
}

func tokensCommand(inv invocation) error {
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	return runTokens(inv.ctx, cfg.Jobs, inv.args, inv.stdout, inv.stderr)
}
