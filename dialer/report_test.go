package dialer_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
)

// Report.String writes one line per attempt, in the order they began, each
// with its start offset, round, address, family, outcome and time, and the
// error of one that did not connect.
func TestReportStringNamesEachAttemptsFamily(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v6 := netip.MustParseAddrPort("[::1]:8080")
	v4 := netip.MustParseAddrPort("127.0.0.1:8080")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(v4.Addr().As16()), 8080)
	rep := dialer.Report{
		DialDoneInfo: dialer.DialDoneInfo{Network: "tcp", Destination: "incident.test:8080", Start: start, Elapsed: 11 * time.Millisecond,
			Winner: v4, Tries: 1},
		Attempts: []dialer.AttemptInfo{ // in the order they ended
			{Address: v4, Try: 1, Start: start.Add(10 * time.Millisecond), Elapsed: time.Millisecond, Outcome: dialer.Connected},
			{Address: v6, Try: 1, Start: start, Elapsed: 11 * time.Millisecond, Outcome: dialer.LostSlow, Err: errors.New("lost")},
			{Address: mapped, Try: 1, Start: start.Add(time.Millisecond), Elapsed: time.Millisecond, Outcome: dialer.Failed, Err: errors.New("refused")},
		},
	}
	lines := strings.Split(strings.TrimSuffix(rep.String(), "\n"), "\n")
	want := []string{
		"dial tcp incident.test:8080: connected to 127.0.0.1:8080 in 11ms",
		"      +0.000ms  try 1 [::1]:8080                               ipv6  lost-slow     11ms  lost",
		"      +1.000ms  try 1 [::ffff:127.0.0.1]:8080                  ipv4  failed         1ms  refused",
		"     +10.000ms  try 1 127.0.0.1:8080                           ipv4  connected      1ms",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Report.String:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
