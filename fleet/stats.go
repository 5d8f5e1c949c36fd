package fleet

import "sync/atomic"

// Stats counts what a Share did since New.
type Stats struct {
	// Sent is the number of messages published, SentBytes their payload
	// bytes; Dropped the messages not sent (queue full, or the link
	// down), Failed those whose commands failed.
	Sent, SentBytes, Dropped, Failed int64
	// Received is the number of other processes' messages applied.
	Received int64
	// ProbesWon and ProbesLost count MayProbe's answers decided by Redis;
	// ProbesAlone those decided alone (the link down or too slow).
	ProbesWon, ProbesLost, ProbesAlone int64
	// Reconnects counts the times the link came back after a loss.
	Reconnects int64
	// Seeded counts other processes' round-trip estimates the Dialer
	// took for a destination it had none of (Dialer.SeedTiming).
	Seeded int64
}

type counters struct {
	sent, sentBytes, dropped, failed, received atomic.Int64
	probesWon, probesLost, probesAlone         atomic.Int64
	reconnects, seeded                         atomic.Int64
	linkSeen                                   atomic.Bool // a link state was logged
}

// Stats returns the Share's counts so far.
func (s *Share) Stats() Stats {
	c := &s.stats
	return Stats{
		Sent: c.sent.Load(), SentBytes: c.sentBytes.Load(), Dropped: c.dropped.Load(), Failed: c.failed.Load(),
		Received:  c.received.Load(),
		ProbesWon: c.probesWon.Load(), ProbesLost: c.probesLost.Load(), ProbesAlone: c.probesAlone.Load(),
		Reconnects: c.reconnects.Load(), Seeded: c.seeded.Load(),
	}
}
