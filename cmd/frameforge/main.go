// Command frameforge runs the FrameForge image-editing gateway.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "frameforge:", err)
		os.Exit(1)
	}
}
