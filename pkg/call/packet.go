package call

import (
	"fmt"
	"net"
	"slices"

	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// ListenPacket opens a UDP socket for the grandchild, with a port chosen
// by the system, to talk to the UDP address to, behind the emulated link
// (link.WrapLingering), and records it. It binds the one local address the
// system would send to's datagrams from: 127.0.0.1 for a grandma on this
// machine, the network's own for one elsewhere, never every address. A
// mode over UDP (QUIC) sends every datagram of the call through one, and
// carries one connection on it: the call counts each socket as one of its
// connections, and its datagrams' payloads, as they crossed the link, in
// Result.WireBytes and Result.PerConnection.
//
// The caller must Close the socket; a call that is aborted, or still has
// it open once the grandchild has hung up, closes it itself. The real
// socket stays open behind it until the call finishes, counting what still
// arrives (link.WrapLingering).
func (s *Session) ListenPacket(to *net.UDPAddr) (*link.PacketConn, error) {
	local, err := sourceFor(to)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	select {
	case <-s.aborted.Done():
		s.mu.Unlock()
		return nil, net.ErrClosed
	default:
	}
	if s.closing {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: local})
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("the grandchild cannot open a UDP socket on %v: %w", local, err)
	}
	s.open.Add(1)
	pc := link.WrapPacketConn(c, link.PacketConfig{
		Profile: s.dialer.Profile(),
		Index:   uint64(len(s.packets)),
		Linger:  true,
		OnClose: func() {
			s.Rec.Record(timeline.Client, timeline.KindClose, "closes the UDP socket")
			s.open.Done()
		},
	})
	s.packets = append(s.packets, pc)
	s.mu.Unlock()
	s.Rec.Record(timeline.Client, timeline.KindConnect, "opens a UDP socket")
	return pc, nil
}

// countPacketsLocked adds the grandchild's UDP sockets to res: each is one
// connection, and its bytes are the payloads of the datagrams that crossed
// the link each way, those that arrived once she was done with it
// included (link.WrapLingering): a peer's last acknowledgements cross the
// wire whether anyone reads them or not. The caller holds s.mu, and calls
// it once grandma is done too, so that nothing more is on its way.
func (s *Session) countPacketsLocked(res *result.Result) {
	for _, pc := range s.packets {
		_ = pc.Drain() // a socket already gone has nothing more to count
		cb := result.ConnBytes{Bytes: [2]int64{timeline.Client: pc.BytesWritten(), timeline.Server: pc.BytesRead()}}
		if a, ok := pc.LocalAddr().(*net.UDPAddr); ok {
			cb.ClientPort = a.Port
		}
		res.Connections++
		res.WireBytes[timeline.Client] += cb.Bytes[timeline.Client]
		res.WireBytes[timeline.Server] += cb.Bytes[timeline.Server]
		res.PerConnection = append(res.PerConnection, cb)
	}
}

// sourceFor returns the local address the system sends datagrams to to
// from: 127.0.0.1 for loopback, as the route says otherwise. Finding it
// sends nothing: a UDP socket's connect only looks up the route.
func sourceFor(to *net.UDPAddr) (net.IP, error) {
	if to == nil || to.IP == nil || to.IP.IsLoopback() || to.IP.IsUnspecified() {
		return net.IPv4(127, 0, 0, 1), nil
	}
	probe, err := net.DialUDP("udp", nil, to)
	if err != nil {
		return nil, fmt.Errorf("the grandchild has no route to grandma at %v: %w", to, err)
	}
	defer probe.Close()
	return probe.LocalAddr().(*net.UDPAddr).IP, nil
}

// countBusyLocked adds the link's busy time to res: its TCP connections'
// one line (the Meter's), and each UDP socket's own, on the call's clock.
// The caller holds s.mu.
func (s *Session) countBusyLocked(res *result.Result) {
	side := func(d link.Direction) timeline.Side {
		if d == link.In {
			return timeline.Server
		}
		return timeline.Client
	}
	var spans []link.Interval
	for _, d := range []link.Direction{link.Out, link.In} {
		res.Busy[side(d)] += s.dialer.Meter.BusyTime(d)
		for _, pc := range s.packets {
			res.Busy[side(d)] += pc.BusyTime(d)
		}
	}
	spans = append(spans, s.dialer.Meter.BusyIntervals()...)
	for _, pc := range s.packets {
		spans = append(spans, pc.BusyIntervals()...)
	}
	slices.SortStableFunc(spans, func(a, b link.Interval) int { return a.Start.Compare(b.Start) })
	for _, iv := range spans {
		res.BusySpans = append(res.BusySpans, result.BusySpan{From: side(iv.Dir), Start: s.Rec.At(iv.Start), End: s.Rec.At(iv.End)})
	}
}
