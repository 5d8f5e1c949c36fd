// Command scrape shows dialguard's OpenTelemetry metrics as Prometheus
// sees them. It reproduces the incident on loopback (incident.test
// resolves to a stalled [::1]:P and a healthy 127.0.0.1:P), dials it -n
// times with a Dialer instrumented by dialotel, and serves the metrics
// through OpenTelemetry's Prometheus exporter at http://LISTEN/metrics
// until interrupted:
//
//	go run ./example/scrape -listen 127.0.0.1:9464
//	curl -s 127.0.0.1:9464/metrics | grep ^dialguard_attempts_total
//
// The first dial's attempt to ::1 is overtaken by 127.0.0.1 (lost-slow);
// the later dials go straight to 127.0.0.1, so the scrape shows one
// attempt to ::1 and -n connected attempts to 127.0.0.1. The program
// prints the first dial's report (dialer.Report) and the address it
// serves on. Its test starts a real Prometheus server that scrapes it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scrape:", err)
		os.Exit(1)
	}
}
