// Package netlab is a network lab for testing dialers against real kernels at
// the end of slow, jittery and lossy links, on one Linux machine.
//
// Loopback answers a SYN in about 50 µs; real destinations are 1–700 ms away
// and lose packets, and timing that looks right on loopback can turn a slow
// link into an outage. The lab puts each far Host in a network namespace of
// its own, joined to the test's namespace by a pair of TUN devices with a
// delay line between them: every packet read from one device waits out the
// direction's delay (plus jitter) and is written to the other, unless the
// direction's loss drops it. Both families are carried (IPv4 in
// 198.18.0.0/15 and IPv6 in 2001:2::/48, the benchmarking ranges that no
// network routes), and a Link's settings can be changed while a test runs:
// a link that degrades, goes black and recovers.
//
// On each Host the endpoints of package dialtest work as on loopback, now at
// a distance: Healthy (an echo server), Refused (a port that answers RST),
// Stalled (a full accept queue) and SilentTLS. Names point at hosts through
// dialtest.DNSServer or dialtest.Resolver, with the Host's addresses.
//
// # Isolation
//
// Nothing a lab test dials may leave the machine. The test binary therefore
// runs in a network namespace of its own, whose only devices are loopback
// and the lab's: Isolate re-executes the running program with CLONE_NEWNET
// and is meant for TestMain:
//
//	func TestMain(m *testing.M) {
//		if code, done := netlab.Isolate(); done {
//			os.Exit(code)
//		}
//		goleak.VerifyTestMain(m)
//	}
//
// New refuses to build a lab in a namespace that has any other device or
// route, and every Host checks, before it is handed out, that the kernel
// routes its addresses over its own lab device (CheckRoute does the same for
// any address).
//
// The lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and /dev/net/tun.
// Without them Isolate runs the program where it is and NewLab skips the
// test with a message that names what is missing; Available reports it.
//
// # Accuracy
//
// A link adds its configured round trip to a connect within a few percent
// at 1 ms and within a fraction of a millisecond at 50 to 700 ms (the
// package's tests check 10 %, or a quarter of a millisecond at 1 ms, where
// the calibration's own noise shows). The lab's own cost (TUN devices, a relay
// thread's wake-up, the far kernel's hop: about 100–250 µs on a 2-core
// virtual machine) is measured when a Lab is made and taken off every link
// (Lab.Overhead). Each relay thread needs to get a P promptly when it wakes:
// under GOMAXPROCS=1 sub-millisecond round trips come out up to a quarter
// short or long.
//
// # Ownership
//
// A Lab owns its hosts; a Host owns its namespace, its two devices and the
// thread of its delay line. Close ends all of them and waits. A
// namespace and its devices live only as long as the descriptors the lab
// holds on them, so a process that dies, even by a panic, leaves nothing
// behind.
package netlab
