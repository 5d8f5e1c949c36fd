package breaker

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want string // substring of the error; empty for valid settings
	}{
		{"zero", Settings{}, ""},
		{"ratio one", Settings{FailureRatio: 1}, ""},
		{"max equals open", Settings{OpenTimeout: time.Second, MaxOpenTimeout: time.Second}, ""},
		{"long open, default max", Settings{OpenTimeout: 2 * time.Minute}, ""},
		{"ratio negative disables", Settings{FailureRatio: -1}, ""},
		{"jitter negative disables", Settings{OpenJitter: -1}, ""},
		{"ratio too big", Settings{FailureRatio: 1.5}, "breaker: Settings.FailureRatio must be at most 1 (negative disables it), got 1.5"},
		{"ratio NaN", Settings{FailureRatio: math.NaN()}, "Settings.FailureRatio"},
		{"jitter too big", Settings{OpenJitter: 2}, "Settings.OpenJitter must be at most 1"},
		{"jitter NaN", Settings{OpenJitter: math.NaN()}, "Settings.OpenJitter"},
		{"window negative", Settings{Window: -time.Second}, "Settings.Window"},
		{"open negative", Settings{OpenTimeout: -1}, "Settings.OpenTimeout"},
		{"max open negative", Settings{MaxOpenTimeout: -1}, "Settings.MaxOpenTimeout"},
		{"max open below open", Settings{OpenTimeout: 10 * time.Second, MaxOpenTimeout: time.Second}, "Settings.MaxOpenTimeout must be at least OpenTimeout (10s), got 1s"},
		{"max open below default open", Settings{MaxOpenTimeout: time.Millisecond}, "Settings.MaxOpenTimeout"},
		{"max breakers negative", Settings{MaxBreakers: -1}, "Settings.MaxBreakers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := NewRegistry(tt.s); err != nil {
					t.Fatalf("NewRegistry() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if _, err := NewRegistry(tt.s); err == nil {
				t.Fatal("NewRegistry() accepted invalid settings")
			}
		})
	}
}

func TestSettingsDefaults(t *testing.T) {
	r, err := NewRegistry(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Settings()
	if s.ConsecutiveFailures != 3 || s.FailureRatio != 0.9 || s.MinRequests != 10 ||
		s.Window != 10*time.Second || s.OpenTimeout != time.Second ||
		s.MaxOpenTimeout != time.Second || s.OpenJitter != 0.25 || s.MaxBreakers != 10000 || s.Logger == nil {
		t.Fatalf("defaults = %+v", s)
	}
	r, err = NewRegistry(Settings{OpenTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Settings().MaxOpenTimeout; got != 2*time.Minute {
		t.Fatalf("MaxOpenTimeout = %v, want OpenTimeout (2m): no escalation by default", got)
	}
}

func TestOpenFor(t *testing.T) {
	s := Settings{OpenTimeout: 5 * time.Second, MaxOpenTimeout: 30 * time.Second}
	want := []time.Duration{5, 10, 20, 30, 30}
	for i, w := range want {
		if got := s.openFor(i + 1); got != w*time.Second {
			t.Errorf("openFor(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	s = Settings{OpenTimeout: time.Second, MaxOpenTimeout: math.MaxInt64}
	if got := s.openFor(1000); got != math.MaxInt64 {
		t.Errorf("openFor(1000) = %v, want the cap without overflow", got)
	}
}

func TestStrings(t *testing.T) {
	for v, want := range map[State]string{Closed: "closed", HalfOpen: "half-open", Open: "open", 9: "State(9)"} {
		if got := v.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[Outcome]string{Success: "success", Failure: "failure", Neutral: "neutral", Refused: "refused", -1: "Outcome(-1)"} {
		if got := v.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", v, got, want)
		}
	}
}
