package call

import (
	"context"
	"errors"
	"net"
)

// serveConns starts serve, a grandma who is not an HTTP handler
// (Roles.Serve), on the call's listener. Every connection she accepts is
// recorded when she closes it, as serve records HTTP's, and can be
// half-closed (halfClosingConn).
//
// The caller must end ctx, then call the returned stop: it returns serve's
// error once serve has returned and every accepted connection is closed.
func (s *Session) serveConns(ctx context.Context, serve func(context.Context, net.Listener) error) (stop func() error) {
	ln := halfClosingListener{&trackingListener{Listener: s.listener, rec: s.Rec}}
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln) }()
	return func() error {
		err := <-served
		ln.waitClosed(nil)
		return err
	}
}

// halfClosingListener is a trackingListener whose connections can be
// half-closed. net/http is never given one: on a connection that can
// half-close, it waits half a second before closing it.
type halfClosingListener struct{ *trackingListener }

func (l halfClosingListener) Accept() (net.Conn, error) {
	c, err := l.trackingListener.Accept()
	if err != nil {
		return nil, err
	}
	return halfClosingConn{c.(*trackedConn)}, nil
}

// halfClosingConn is a tracked connection that keeps the half-close of the
// connection it wraps.
type halfClosingConn struct{ *trackedConn }

// CloseWrite shuts down the writing side of the connection: the peer reads
// what was written, then the end of the stream, and may still write back.
// It returns errors.ErrUnsupported if the connection cannot half-close (an
// in-memory pipe).
func (c halfClosingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
