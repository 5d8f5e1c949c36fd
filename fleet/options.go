package fleet

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Defaults used when an option is not given.
const (
	// DefaultPrefix starts every key and the channel the Share uses.
	DefaultPrefix = "dialguard"
	// DefaultProbeLease is how long one process holds the right to probe
	// a destination for the fleet, if it does not say first how its probe
	// went: long enough for a probe dial that stalls (an attempt timeout
	// of a few seconds) to end.
	DefaultProbeLease = 5 * time.Second
	// DefaultProbeTimeout bounds the one Redis command a half-open probe
	// waits for: a probe is a dial, and a dial must not wait on Redis
	// longer than a loopback round trip under load.
	DefaultProbeTimeout = 25 * time.Millisecond
	// DefaultCommandTimeout bounds every other Redis command, made by
	// the Share's own goroutines.
	DefaultCommandTimeout = time.Second
	// DefaultStartTimeout bounds how long New of the Dialer waits for the
	// open set at start.
	DefaultStartTimeout = 500 * time.Millisecond
	// DefaultQueueSize is the number of messages waiting to be sent;
	// more are dropped.
	DefaultQueueSize = 1024
	// DefaultHealthInterval is how long a quiet link goes before it is
	// checked with a PING.
	DefaultHealthInterval = 5 * time.Second
	// DefaultMaxReconnectWait caps the backoff between reconnects.
	DefaultMaxReconnectWait = 5 * time.Second
	// DefaultTimingInterval is WithTimingInterval's default.
	DefaultTimingInterval = time.Minute
	// DefaultFamilyTTL is WithFamilyTTL's default.
	DefaultFamilyTTL = time.Minute
)

// Option configures a Share. Options are validated by New.
type Option func(*config) error

type config struct {
	prefix           string
	id               string
	probeLease       time.Duration
	probeTimeout     time.Duration
	commandTimeout   time.Duration
	startTimeout     time.Duration
	queueSize        int
	healthInterval   time.Duration
	maxReconnectWait time.Duration
	shareStalls      bool
	shareTiming      bool
	shareFamily      bool
	timingInterval   time.Duration
	familyTTL        time.Duration
	logger           *zap.Logger
}

func defaultConfig() config {
	return config{
		prefix:           DefaultPrefix,
		probeLease:       DefaultProbeLease,
		probeTimeout:     DefaultProbeTimeout,
		commandTimeout:   DefaultCommandTimeout,
		startTimeout:     DefaultStartTimeout,
		queueSize:        DefaultQueueSize,
		healthInterval:   DefaultHealthInterval,
		maxReconnectWait: DefaultMaxReconnectWait,
		shareStalls:      true,
		shareTiming:      true,
		shareFamily:      true,
		timingInterval:   DefaultTimingInterval,
		familyTTL:        DefaultFamilyTTL,
		logger:           zap.NewNop(),
	}
}

func optionError(name, format string, args ...any) error {
	return fmt.Errorf("fleet: %s: %s", name, fmt.Sprintf(format, args...))
}

// WithPrefix sets the prefix of the keys and the channel, so that fleets
// dialling different sets of destinations may share one Redis. Default
// "dialguard". It must not be empty or contain spaces.
func WithPrefix(p string) Option {
	return func(c *config) error {
		if p == "" || strings.ContainsAny(p, " \t\r\n") {
			return optionError("WithPrefix", "must be non-empty and without spaces, got %q", p)
		}
		c.prefix = p
		return nil
	}
}

// WithID names the process in what it publishes, so that it ignores its
// own messages. Default: 16 random hex digits. It must not be empty or
// contain '|'.
func WithID(id string) Option {
	return func(c *config) error {
		if id == "" || strings.Contains(id, "|") {
			return optionError("WithID", "must be non-empty and without '|', got %q", id)
		}
		c.id = id
		return nil
	}
}

// WithProbeLease sets how long a process that won the right to probe a
// destination keeps it if it does not report the probe's end (it crashed,
// say); the others then win it again. Default 5s. It must be positive.
func WithProbeLease(d time.Duration) Option {
	return positive("WithProbeLease", d, func(c *config) { c.probeLease = d })
}

// WithProbeTimeout bounds the Redis command that decides which process
// probes; past it the process probes, as it would alone. Default 25ms. It
// must be positive.
func WithProbeTimeout(d time.Duration) Option {
	return positive("WithProbeTimeout", d, func(c *config) { c.probeTimeout = d })
}

// WithCommandTimeout bounds the Share's other Redis commands (publishing,
// reading the open set). Default 1s. It must be positive.
func WithCommandTimeout(d time.Duration) Option {
	return positive("WithCommandTimeout", d, func(c *config) { c.commandTimeout = d })
}

// WithStartTimeout bounds how long attaching to a Dialer (in dialer.New)
// waits for Redis to give the destinations open now. Default 500ms. It
// must be positive.
func WithStartTimeout(d time.Duration) Option {
	return positive("WithStartTimeout", d, func(c *config) { c.startTimeout = d })
}

// WithHealthInterval sets how long the link may be quiet before a PING
// checks it. Default 5s. It must be positive.
func WithHealthInterval(d time.Duration) Option {
	return positive("WithHealthInterval", d, func(c *config) { c.healthInterval = d })
}

// WithMaxReconnectWait caps the exponential backoff between attempts to
// reach Redis again. Default 5s. It must be positive.
func WithMaxReconnectWait(d time.Duration) Option {
	return positive("WithMaxReconnectWait", d, func(c *config) { c.maxReconnectWait = d })
}

// WithQueueSize sets how many messages may wait to be sent; a message
// that finds the queue full is dropped (and counted in Stats). Default
// 1024. It must be positive.
func WithQueueSize(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return optionError("WithQueueSize", "must be positive, got %d", n)
		}
		c.queueSize = n
		return nil
	}
}

// WithoutStalls stops sharing confirmed stalls: only breaker openings and
// closings are shared. By default each stall is published, and counted
// by every process's breaker for the destination, so that the fleet trips
// after a few stalls in all, not a few per process.
func WithoutStalls() Option {
	return func(c *config) error {
		c.shareStalls = false
		return nil
	}
}

// WithTimingInterval sets how often, at most, a process publishes a
// destination's round-trip estimate again after its first: only when its
// smoothed round trip has moved by more than a quarter since it last
// shared it, and no sooner than this after. Default 1 min. It must be
// positive.
func WithTimingInterval(d time.Duration) Option {
	return positive("WithTimingInterval", d, func(c *config) { c.timingInterval = d })
}

// WithFamilyTTL sets how long another process's word that IPv6 is broken
// holds (the Dialer cuts it to its memory's ttl, 1 min by default). A
// process whose own dials keep finding it broken says so again each half
// ttl, unless another did. Default 1 min. It must be positive.
func WithFamilyTTL(d time.Duration) Option {
	return positive("WithFamilyTTL", d, func(c *config) { c.familyTTL = d })
}

// WithoutTiming stops sharing round-trip estimates (see
// Dialer.SeedTiming). By default a destination's estimate is published
// when a process first learns it and when it moves by more than a
// quarter, and seeds the first dial of the processes that have none.
func WithoutTiming() Option {
	return func(c *config) error {
		c.shareTiming = false
		return nil
	}
}

// WithoutFamily stops sharing whether IPv6 is broken (see
// Dialer.NoteIPv6Broken). Share it only across processes whose IPv6 takes
// the same path out: the hosts of one network.
func WithoutFamily() Option {
	return func(c *config) error {
		c.shareFamily = false
		return nil
	}
}

// WithLogger sets the logger: one line per change of the link to Redis
// (Warn when lost, Info when back). Default: no logs.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optionError("WithLogger", "nil logger")
		}
		c.logger = l
		return nil
	}
}

func positive(name string, d time.Duration, set func(*config)) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError(name, "must be positive, got %v", d)
		}
		set(c)
		return nil
	}
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}
