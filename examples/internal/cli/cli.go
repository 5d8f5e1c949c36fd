// Package cli is the main function every example shares: run the example
// under a context that Interrupt (Ctrl-C) cancels, and exit 1 with the
// error on stderr if it fails. Each example keeps its logic in a run
// function that its own test calls for real.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Main runs run with the command-line arguments and standard output, and
// exits 1 (after printing "name: error") if it returns an error. Interrupt
// cancels run's context; run then closes everything and returns.
func Main(name string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
