package fleet

import (
	"strings"
	"testing"
	"time"
)

func TestMessagesRoundTrip(t *testing.T) {
	until := time.UnixMilli(1_800_000_000_123)
	for _, m := range []message{
		{kind: opened, from: "a1", until: until, dest: "api.example:443"},
		{kind: reopened, from: "a1", until: until, dest: "[::1]:80"},
		{kind: closed, from: "b2", dest: "db|odd:5432"},
		{kind: stall, from: "c3", dest: "127.0.0.1:9"},
		{kind: timing, from: "d4", srtt: 21500 * time.Microsecond, rttvar: 7 * time.Millisecond, dest: "db.internal:5432"},
		{kind: v6broken, from: "e5", until: until, dest: familyDest},
		{kind: v6mended, from: "e5", dest: familyDest},
	} {
		got, err := decode(m.encode())
		if err != nil {
			t.Fatalf("decode(%q): %v", m.encode(), err)
		}
		if got.kind != m.kind || got.from != m.from || got.dest != m.dest || !got.until.Equal(m.until) ||
			got.srtt != m.srtt || got.rttvar != m.rttvar {
			t.Errorf("decode(encode(%+v)) = %+v", m, got)
		}
	}
}

func TestMalformedMessagesAreRefused(t *testing.T) {
	for _, s := range []string{"", "o", "o|a|1", "o|a|x|d:1", "o|a|0|d:1", "x|a|0|d:1", "c||0|d:1", "c|a|0|", "oo|a|1|d:1",
		"t|a|0|d:1", "t|a|5|d:1", "t|a|0,1|d:1", "t|a|5,-1|d:1", "t|a|x,1|d:1", "t|a|99999999999999,1|d:1", "b|a|0|ipv6"} {
		if _, err := decode(s); err == nil {
			t.Errorf("decode(%q) succeeded, want an error", s)
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithPrefix(""), "WithPrefix"},
		{WithPrefix("a b"), "WithPrefix"},
		{WithID("a|b"), "WithID"},
		{WithProbeLease(0), "WithProbeLease"},
		{WithProbeTimeout(-time.Second), "WithProbeTimeout"},
		{WithCommandTimeout(0), "WithCommandTimeout"},
		{WithStartTimeout(0), "WithStartTimeout"},
		{WithHealthInterval(0), "WithHealthInterval"},
		{WithMaxReconnectWait(0), "WithMaxReconnectWait"},
		{WithQueueSize(0), "WithQueueSize"},
		{WithLogger(nil), "WithLogger"},
		{WithTimingInterval(0), "WithTimingInterval"},
		{WithFamilyTTL(-time.Second), "WithFamilyTTL"},
	} {
		c := defaultConfig()
		if err := tc.opt(&c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("option error = %v, want one naming %s", err, tc.want)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}
