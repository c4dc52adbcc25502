// Command frameforge runs the FrameForge image-editing gateway; its
// subcommands (commands.go) help run it: version, healthcheck, webhook-secret.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

func main() {
	err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr, nil)
	var ue *usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		os.Exit(2) // run has printed the error and the usage
	default:
		fmt.Fprintln(os.Stderr, "frameforge:", err)
		os.Exit(1)
	}
}
