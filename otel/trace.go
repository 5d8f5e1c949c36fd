package dialotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialguard/dialguard/dialer"
)

// Span names. No semantic convention covers a client's dial yet; .NET's
// networking spans are the nearest there is: "socket connect" is one
// socket's connect(2) to one address, and "TLS client handshake" its
// handshake. A dialguard dial is more than one socket (it resolves, races
// several addresses, retries), so it gets a span of its own, named after
// the library as .NET's HTTP "connection_setup" span is after its layer,
// and each attempt is a "socket connect" child, its handshake a "TLS
// client handshake" grandchild; each DNS answer is a "DNS lookup" child.
const (
	SpanDial      = "dialguard.dial"
	SpanAttempt   = "socket connect"
	SpanHandshake = "TLS client handshake"
	SpanLookup    = "DNS lookup"
)

// Attribute keys of the spans only.
const (
	// keyStartOffset is how long after the dial's start an attempt or a
	// lookup began, in seconds.
	keyStartOffset = attribute.Key("dialguard.start_offset")
	keyTry         = attribute.Key("dialguard.try")
	keyTries       = attribute.Key("dialguard.tries")
	keyFailedFast  = attribute.Key("dialguard.failed_fast")
	keyProbe       = attribute.Key("dialguard.probe")
	keyRTT         = attribute.Key("dialguard.rtt")
	keyDNSNetwork  = attribute.Key("dialguard.dns.network")
	keyDNSAnswers  = attribute.Key("dialguard.dns.answers")
	keyWaited      = attribute.Key("dialguard.waited")
	keyWait        = attribute.Key("dialguard.wait")
)

// dialStart starts the dial's span, a child of the caller's span in ctx,
// and returns the context that carries it, so that the dial's other hooks
// (and what the dial calls with it, such as an instrumented resolver)
// make their spans under it. When the sampler drops the dial's span, the
// context carries the dropped span (its trace goes on, unsampled) and the
// other hooks make no spans.
//
// The attributes are set once the span is known to record, not given to
// Start: a sampler therefore sees only the span's name and kind, and a
// dropped span costs no attribute slice.
func (i *Instrumentation) dialStart(ctx context.Context, info dialer.DialStartInfo) context.Context {
	ctx, span := i.tracer.Start(ctx, SpanDial, trace.WithTimestamp(info.Start), clientKind)
	if span.IsRecording() {
		host, port := serverAttrs(info.Destination)
		span.SetAttributes(host, port, keyNetwork.String(info.Network), keyTLS.Bool(info.TLS))
	}
	return ctx
}

// clientKind is made once: an option made per span would be one more
// allocation per dial.
var clientKind = trace.WithSpanKind(trace.SpanKindClient)

// dialSpan returns the dial's span if dialStart made a recording one.
func dialSpan(ctx context.Context) (trace.Span, bool) {
	span := trace.SpanFromContext(ctx)
	return span, span.IsRecording()
}

func (i *Instrumentation) dialDone(ctx context.Context, info dialer.DialDoneInfo) {
	i.recordDial(ctx, &info)
	span, ok := dialSpan(ctx)
	if !ok {
		return
	}
	attrs := []attribute.KeyValue{keyTries.Int(info.Tries)}
	if info.FailedFast {
		attrs = append(attrs, keyFailedFast.Bool(true))
	}
	if info.Probe {
		attrs = append(attrs, keyProbe.Bool(true))
	}
	if info.RTT > 0 {
		attrs = append(attrs, keyRTT.Float64(info.RTT.Seconds()))
	}
	if info.Err != nil {
		attrs = append(attrs, keyErrorType.String(errorType(info.Err)))
		span.SetStatus(codes.Error, info.Err.Error())
	} else {
		addr, p, family := peerAttrs(info.Winner)
		attrs = append(attrs, addr, p, family)
	}
	span.SetAttributes(attrs...)
	span.End(trace.WithTimestamp(info.Start.Add(info.Elapsed)))
}

// attempt records the attempt and, in a traced dial, makes its span after
// the fact from when it began and how long it took, with its TLS
// handshake as a child span (the handshake is the end of the attempt).
func (i *Instrumentation) attempt(ctx context.Context, info dialer.AttemptInfo) {
	i.recordAttempt(ctx, &info)
	if _, ok := dialSpan(ctx); !ok {
		return
	}
	addr, port, family := peerAttrs(info.Address)
	attrs := []attribute.KeyValue{addr, port, family, keyTry.Int(info.Try),
		keyStartOffset.Float64(info.Start.Sub(info.DialStart).Seconds()), keyOutcome.String(info.Outcome.String())}
	if info.Err != nil && charged(info.Outcome) {
		attrs = append(attrs, keyErrorType.String(errorType(info.Err)))
	}
	end := info.Start.Add(info.Elapsed)
	actx, span := i.tracer.Start(ctx, SpanAttempt, trace.WithTimestamp(info.Start), clientKind,
		trace.WithAttributes(attrs...))
	if charged(info.Outcome) && info.Err != nil {
		span.SetStatus(codes.Error, info.Err.Error())
	}
	if info.Handshake > 0 {
		_, hs := i.tracer.Start(actx, SpanHandshake, trace.WithTimestamp(end.Add(-info.Handshake)))
		var tlsErr error
		if info.Outcome == dialer.Rejected || errors.Is(info.Err, dialer.ErrHandshakeTimeout) {
			tlsErr = info.Err
		}
		if tlsErr != nil {
			hs.SetStatus(codes.Error, tlsErr.Error())
			hs.SetAttributes(keyErrorType.String(errorType(tlsErr)))
		}
		hs.End(trace.WithTimestamp(end))
	}
	span.End(trace.WithTimestamp(end))
}

// resolved makes a span for one answer of the resolver.
func (i *Instrumentation) resolved(ctx context.Context, info dialer.ResolveInfo) {
	if _, ok := dialSpan(ctx); !ok {
		return
	}
	attrs := []attribute.KeyValue{keyDNSNetwork.String(info.Network), keyDNSAnswers.Int(len(info.Addrs))}
	if info.Err != nil {
		attrs = append(attrs, keyErrorType.String(errorType(info.Err)))
	}
	_, ls := i.tracer.Start(ctx, SpanLookup, trace.WithTimestamp(info.Start), trace.WithAttributes(attrs...))
	if info.Err != nil {
		ls.SetStatus(codes.Error, info.Err.Error())
	}
	ls.End(trace.WithTimestamp(info.Start.Add(info.Elapsed)))
}

// admission records the wait and adds it to the dial's span as an event.
func (i *Instrumentation) admission(ctx context.Context, info dialer.AdmissionInfo) {
	i.recordAdmission(ctx, &info)
	if span, ok := dialSpan(ctx); ok {
		attrs := []attribute.KeyValue{keyWaited.Float64(info.Waited.Seconds())}
		if info.Err != nil {
			attrs = append(attrs, keyErrorType.String(errorType(info.Err)))
		}
		span.AddEvent("admission", trace.WithAttributes(attrs...))
	}
}

// retry records the retry and adds it to the dial's span as an event.
func (i *Instrumentation) retry(ctx context.Context, info dialer.RetryInfo) {
	i.recordRetry(ctx, &info)
	if span, ok := dialSpan(ctx); ok {
		span.AddEvent("retry", trace.WithAttributes(keyTry.Int(info.Try), keyWait.Float64(info.Wait.Seconds()),
			keyErrorType.String(errorType(info.Cause))))
	}
}
