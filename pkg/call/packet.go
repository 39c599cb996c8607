package call

import (
	"fmt"
	"net"

	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// ListenPacket opens a UDP socket for the grandchild on 127.0.0.1, with a
// port chosen by the system, behind the emulated link (link.WrapPacket),
// and records it. A mode over UDP (QUIC) sends every datagram of the call
// through one, and carries one connection on it: the call counts each
// socket as one of its connections, and its datagrams' payloads, as they
// crossed the link, in Result.WireBytes and Result.PerConnection.
//
// The caller must Close the socket; a call that is aborted, or still has
// it open once the grandchild has hung up, closes it itself.
func (s *Session) ListenPacket() (*link.PacketConn, error) {
	s.mu.Lock()
	select {
	case <-s.aborted.Done():
		s.mu.Unlock()
		return nil, net.ErrClosed
	default:
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("the grandchild cannot open a UDP socket on 127.0.0.1: %w", err)
	}
	s.open.Add(1)
	pc := link.WrapPacket(c, s.cfg.Latency, func() {
		s.Rec.Record(timeline.Client, timeline.KindClose, "closes the UDP socket")
		s.open.Done()
	})
	s.packets = append(s.packets, pc)
	s.mu.Unlock()
	s.Rec.Record(timeline.Client, timeline.KindConnect, "opens a UDP socket")
	return pc, nil
}

// countPacketsLocked adds the grandchild's UDP sockets to res: each is one
// connection, and its bytes are the payloads of the datagrams that crossed
// the link each way. The caller holds s.mu.
func (s *Session) countPacketsLocked(res *result.Result) {
	for _, pc := range s.packets {
		cb := result.ConnBytes{Bytes: [2]int64{timeline.Client: pc.BytesWritten(), timeline.Server: pc.BytesRead()}}
		res.Connections++
		res.WireBytes[timeline.Client] += cb.Bytes[timeline.Client]
		res.WireBytes[timeline.Server] += cb.Bytes[timeline.Server]
		res.PerConnection = append(res.PerConnection, cb)
	}
}
