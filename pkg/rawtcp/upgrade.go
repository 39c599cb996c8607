package rawtcp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// A call to grandma elsewhere (duplexdemo serve) shares the server's one
// TCP port with its web page and its other modes, so it cannot start with
// a line: the grandchild first asks, in one HTTP/1.1 request, to switch
// the connection to lines (RFC 9110 §7.8, as a WebSocket does), and grandma
// answers 101 Switching Protocols. From the blank line that ends her answer
// on, the connection carries lines and nothing else, exactly as in one
// process. So the set-up costs the TCP handshake and the upgrade's round
// trip, where a call in this process costs the handshake alone.
const (
	// Path is where duplexdemo serve takes raw TCP calls.
	Path = "/tcp"
	// Protocol is the Upgrade token the grandchild asks for and grandma
	// answers with.
	Protocol = "duplexdemo-lines"
)

// CheckUpgrade returns nil if r asks to switch its connection to lines (a
// GET with Connection: Upgrade and Upgrade: Protocol), and otherwise an
// error saying what it lacks: grandma answers it with 426 Upgrade Required.
func CheckUpgrade(r *http.Request) error {
	if r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor < 1 { // HTTP/2 has no Upgrade
		return fmt.Errorf("a raw TCP call begins with a GET in HTTP/1.1 that asks to switch the connection to %s (Connection: Upgrade, Upgrade: %s), not a %s in %s",
			Protocol, Protocol, r.Method, r.Proto)
	}
	if !hasToken(r.Header, "Connection", "upgrade") || !hasToken(r.Header, "Upgrade", Protocol) {
		return fmt.Errorf("a raw TCP call asks to switch the connection to lines: send Connection: Upgrade and Upgrade: %s", Protocol)
	}
	return nil
}

// hasToken says whether one of the comma-separated values of header name
// is token, in any case.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// errEarlyLine: the grandchild wrote after her request, before grandma's
// answer. She asked to switch protocols and must hear that she may.
var errEarlyLine = errors.New("a line came before grandma answered the upgrade: wait for her 101 Switching Protocols before the first line")

// Switch takes over the connection of a request that CheckUpgrade passed
// and answers it 101 Switching Protocols, with the protocol version: from
// the blank line that ends the answer on, the connection carries lines.
// It returns the connection, which the caller must close. If the
// grandchild wrote anything after her request, before the answer, Switch
// answers 400 Bad Request instead, closes the connection and says why.
func Switch(w http.ResponseWriter) (net.Conn, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("taking over the connection: %w", err)
	}
	version := wire.HeaderVersion + ": " + strconv.Itoa(wire.Version) + "\r\n"
	answer := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + Protocol + "\r\n" + version + "\r\n"
	early := brw.Reader.Buffered() > 0
	if early {
		why := errEarlyLine.Error() + "\n"
		answer = fmt.Sprintf("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s",
			len(why), version, why)
	}
	// net/http leaves its own deadlines on a connection it hands over.
	err = conn.SetDeadline(time.Time{})
	if err == nil {
		err = conn.SetWriteDeadline(time.Now().Add(writeWait))
	}
	if err == nil {
		_, err = io.WriteString(conn, answer)
	}
	switch {
	case err != nil:
		conn.Close()
		return nil, fmt.Errorf("answering the upgrade: %w", err)
	case early:
		conn.Close()
		return nil, errEarlyLine
	}
	return conn, nil
}

// upgrade asks grandma, on conn, to switch it to lines, and reads her
// answer within wait. It returns the reader of her lines, which may hold
// the first bytes after her answer already.
func (e *elsewhere) upgrade(ctx context.Context, conn net.Conn, wait time.Duration) (*bufio.Reader, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", Protocol)
	req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	// Both bounded by wait, and cut at once when ctx ends.
	if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })()
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("calling grandma: asking to switch to lines: %w", err)
	}
	// Her answer's head is bounded as a request's is; then only each line.
	head := &io.LimitedReader{R: conn, N: call.MaxHeaderBytes}
	r := newLineReader(head, call.MaxLine) // then grandma's lines
	resp, err := http.ReadResponse(r, req)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("calling grandma: she did not answer the upgrade within %v", wait.Round(time.Millisecond))
	case err != nil:
		return nil, fmt.Errorf("calling grandma: reading her answer to the upgrade: %w", err)
	}
	if resp.Header.Get(wire.HeaderVersion) == "" {
		return nil, fmt.Errorf("%s is not duplexdemo serve: it answered the call with %s", req.URL.Host, resp.Status)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return nil, fmt.Errorf("calling grandma: she answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := wire.CheckVersion(resp.Header.Get(wire.HeaderVersion), "server"); err != nil {
		return nil, err
	}
	if !hasToken(resp.Header, "Upgrade", Protocol) {
		return nil, fmt.Errorf("calling grandma: she switched to %q, not to %s", resp.Header.Get("Upgrade"), Protocol)
	}
	head.N = math.MaxInt64
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return r, nil
}
