package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// apiName is the made-up name the client fetches from.
const apiName = "api.test"

// fetchTimeout bounds one fetch, dial included.
const fetchTimeout = 5 * time.Second

// maxFetches bounds -n.
const maxFetches = 100

// run parses args, sets up the stalled [::1] and the HTTP server on
// 127.0.0.1, fetches http://api.test:P/ -n times through a dialguard-backed
// http.Client and prints one line per fetch (and the dialer's log) to out.
// Everything it starts is closed before it returns.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	n, err := parseFlags(args)
	if err != nil {
		return err
	}
	in, err := listenIncident()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := in.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing: %w", cerr)
		}
	}()

	w := zapcore.Lock(zapcore.AddSync(out)) // the log and the fetch lines share out
	log := newLogger(w)
	defer log.Sync()

	res := dialtest.NewResolver(map[string]dialtest.Host{apiName: {
		IPv6: []netip.Addr{netip.IPv6Loopback()},
		IPv4: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
	}})
	d, err := dialer.New(dialer.WithResolver(res), dialer.WithLogger(log))
	if err != nil {
		return err
	}
	tr := &http.Transport{
		DialContext: d.DialContext,
		// Every fetch dials, so that each one shows what dialguard
		// remembers; with keep-alives on, later fetches would reuse the
		// first connection and not dial at all.
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: fetchTimeout}

	url := "http://" + net.JoinHostPort(apiName, strconv.Itoa(int(in.port))) + "/"
	fmt.Fprintf(w, "%s resolves to [::1] (stalled: %s) and 127.0.0.1 (HTTP server); fetching %s %d times\n",
		apiName, in.stalled, url, n)
	for i := 1; i <= n; i++ {
		if err := fetch(ctx, client, url, i, w); err != nil {
			return err
		}
	}
	return nil
}

// fetch GETs url once and prints its status, body and elapsed time.
func fetch(ctx context.Context, client *http.Client, url string, i int, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %d: %w", i, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("fetch %d: reading body: %w", i, err)
	}
	_, err = fmt.Fprintf(out, "fetch %d: %s %q in %v\n", i, resp.Status, body, elapsed.Round(10*time.Microsecond))
	return err
}

// parseFlags returns the number of fetches (-n, default 3).
func parseFlags(args []string) (int, error) {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("n", 3, "number of fetches")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, errors.New("usage: http [-n fetches]")
		}
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, fmt.Errorf("unexpected argument %q (usage: http [-n fetches])", fs.Arg(0))
	}
	if *n < 1 || *n > maxFetches {
		return 0, fmt.Errorf("-n must be between 1 and %d, got %d", maxFetches, *n)
	}
	return *n, nil
}
