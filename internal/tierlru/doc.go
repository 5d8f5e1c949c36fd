// Package tierlru is a bounded cache whose entries are ranked by tiers:
// when it is full, the least recently used entry of the lowest tier that
// has any is evicted, so what is in a higher tier outlives everything in
// the tiers below it. dialguard uses it to keep what is failing (an open
// breaker, a destination that is stalling) while unrelated traffic
// churns through what is healthy.
package tierlru
