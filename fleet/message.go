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
)

// message is one thing a process tells the others, sent on the channel
// as "kind|id|until|destination": until in Unix milliseconds (0 but for
// an opening), the destination last so that it may hold any character. An
// opening to a name of 20 characters is about 50 bytes.
type message struct {
	kind  kind
	from  string
	until time.Time
	dest  string
}

func (k kind) opens() bool { return k == opened || k == reopened }

func (m message) encode() string {
	var until int64
	if m.kind.opens() {
		until = m.until.UnixMilli()
	}
	var b strings.Builder
	b.Grow(4 + len(m.from) + 14 + len(m.dest))
	b.WriteByte(byte(m.kind))
	b.WriteByte('|')
	b.WriteString(m.from)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(until, 10))
	b.WriteByte('|')
	b.WriteString(m.dest)
	return b.String()
}

var errBadMessage = errors.New("fleet: malformed message")

func decode(s string) (message, error) {
	parts := strings.SplitN(s, "|", 4)
	if len(parts) != 4 || len(parts[0]) != 1 || parts[1] == "" || parts[3] == "" {
		return message{}, errBadMessage
	}
	m := message{kind: kind(parts[0][0]), from: parts[1], dest: parts[3]}
	switch m.kind {
	case opened, reopened:
		ms, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || ms <= 0 {
			return message{}, errBadMessage
		}
		m.until = time.UnixMilli(ms)
	case closed, stall:
	default:
		return message{}, errBadMessage
	}
	return m, nil
}
