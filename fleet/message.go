package fleet

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// kind is what a message says about its destination.
type kind byte

const (
	opened   kind = 'o' // its breaker opened, until the message's time
	reopened kind = 'r' // its probe failed: open again, until the message's time
	closed   kind = 'c' // its probe connected: close
	stall    kind = 's' // an attempt to it stalled
	timing   kind = 't' // its round-trip estimate: srtt and rttvar
	v6broken kind = 'b' // IPv6 is broken, until the message's time (dest is familyDest)
	v6mended kind = 'm' // IPv6 works again (dest is familyDest)
)

// familyDest is the destination field of the family messages, which are
// about no destination.
const familyDest = "ipv6"

// message is one thing a process tells the others, sent on the channel
// as "kind|id|until|destination": until in Unix milliseconds (0 but for
// an opening and a family verdict; for a round-trip estimate the srtt and
// rttvar in microseconds, "srtt,rttvar"), the destination last so that it
// may hold any character. An opening to a name of 20 characters is about
// 50 bytes.
type message struct {
	kind         kind
	from         string
	until        time.Time
	srtt, rttvar time.Duration // timing only
	dest         string
}

func (k kind) opens() bool { return k == opened || k == reopened }

// hasUntil reports whether the message's time is its until.
func (k kind) hasUntil() bool { return k.opens() || k == v6broken }

// breaker reports whether the message is about a destination's breaker
// (its probe lease and the open set).
func (k kind) breaker() bool { return k == opened || k == reopened || k == closed }

func (m message) encode() string {
	var until int64
	if m.kind.hasUntil() {
		until = m.until.UnixMilli()
	}
	var b strings.Builder
	b.Grow(4 + len(m.from) + 14 + len(m.dest))
	b.WriteByte(byte(m.kind))
	b.WriteByte('|')
	b.WriteString(m.from)
	b.WriteByte('|')
	if m.kind == timing {
		b.WriteString(strconv.FormatInt(m.srtt.Microseconds(), 10))
		b.WriteByte(',')
		b.WriteString(strconv.FormatInt(m.rttvar.Microseconds(), 10))
	} else {
		b.WriteString(strconv.FormatInt(until, 10))
	}
	b.WriteByte('|')
	b.WriteString(m.dest)
	return b.String()
}

// maxRTTMicros bounds a round trip in a message (an hour): beyond it the
// microseconds would overflow a Duration long before they meant anything.
const maxRTTMicros = int64(time.Hour / time.Microsecond)

var errBadMessage = errors.New("fleet: malformed message")

func decode(s string) (message, error) {
	parts := strings.SplitN(s, "|", 4)
	if len(parts) != 4 || len(parts[0]) != 1 || parts[1] == "" || parts[3] == "" {
		return message{}, errBadMessage
	}
	m := message{kind: kind(parts[0][0]), from: parts[1], dest: parts[3]}
	switch m.kind {
	case opened, reopened, v6broken:
		ms, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || ms <= 0 {
			return message{}, errBadMessage
		}
		m.until = time.UnixMilli(ms)
	case timing:
		a, b, ok := strings.Cut(parts[2], ",")
		srtt, err1 := strconv.ParseInt(a, 10, 64)
		rttvar, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || srtt <= 0 || rttvar < 0 || srtt > maxRTTMicros || rttvar > maxRTTMicros {
			return message{}, errBadMessage
		}
		m.srtt, m.rttvar = time.Duration(srtt)*time.Microsecond, time.Duration(rttvar)*time.Microsecond
	case closed, stall, v6mended:
	default:
		return message{}, errBadMessage
	}
	return m, nil
}
