package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
)

// serveOptions are the flags of the serve command.
type serveOptions struct {
	// Listen is the address to listen on (--listen).
	Listen string
	// Latency is the emulated link on the server's side (--latency).
	Latency time.Duration
	// MaxCalls bounds the calls at once (--max-calls).
	MaxCalls int
	// AllowOrigins are web origins allowed to call on the phone besides
	// the server's own (--allow-origin).
	AllowOrigins []string
	// LogFormat is text or json (--log-format).
	LogFormat string
	// Record is a file that keeps the class experiment (--record): read
	// back at start, a line appended per call.
	Record string
}

// newCmdServe builds the serve command: grandma alone, for a classroom.
func newCmdServe(deps *env) *cobra.Command {
	o := &serveOptions{Listen: classroom.DefaultAddr, MaxCalls: classroom.DefaultMaxCalls, LogFormat: "text"}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve grandma alone, for students to call from their own machines",
		Long: `serve runs grandma by herself, for a classroom: the teacher runs it once,
and every student calls her with duplexdemo walkie --server URL or
duplexdemo phone --server URL. Each student gets a call of her own, many at
once, and sees both sides: at the end of each call grandma hands over her
own record of it, and the student's duplexdemo aligns her clock with its
own. Students with only a browser open the server's address: its page plays
both calls from the browser.

Every call a student makes (from the page or with --server) is reported to
the class experiment under an anonymous name such as calm-otter-42. The
teacher's view at /class shows every call live, for the projector: a row of
lanes per call, and for each mode how long the interruption and the
afterthought waited and when they were heard, with the median. Its address,
printed at start, carries the teacher's token: only it can start a new
experiment. The class record downloads as JSON or CSV; with --record FILE
it also survives a restart of serve. duplexdemo report turns a downloaded
record into a page for after class.

It listens on 127.0.0.1 (this machine only) unless told otherwise; give
--listen 0.0.0.0:8080 to take calls from the room's network. It logs one
line per call on stderr. Ctrl-C stops it: phone calls are hung up (1001),
WebTransport calls too (session code 4, then QUIC's CONNECTION_CLOSE),
walkie answers get a moment to finish, and it exits within a second.

WebTransport (HTTP/3 over QUIC) takes calls on UDP beside the TCP port: the
same port number when it is free, else one the system picks; serve prints
it. Its certificate is made in memory at start (ECDSA, valid 13 days, as
browsers require of a certificate pinned by its hash) and made anew a day
before it ends, so a class may run for weeks.`,
		Example: `  duplexdemo serve
  duplexdemo serve --listen 0.0.0.0:8080
  duplexdemo serve --listen 0.0.0.0:8080 --latency 100ms --log-format json
  duplexdemo serve --listen 0.0.0.0:8080 --record class.jsonl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, deps, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Listen, "listen", o.Listen, "address to take calls on, host:port; 0.0.0.0:8080 takes them from every network this machine is on")
	fs.Var(&durationValue{p: &o.Latency, allowZero: true, max: call.MaxLatency}, "latency", fmt.Sprintf("one-way delay of an emulated link on grandma's side of every call, each direction (0 = none, at most %v)", call.MaxLatency))
	fs.Var(&intValue{&o.MaxCalls, 1, 100000}, "max-calls", "calls grandma takes at once; past it a caller is told to try again")
	fs.StringArrayVar(&o.AllowOrigins, "allow-origin", nil, "a web origin, such as http://teacher.local:8080, whose pages may call on the phone besides grandma's own (repeat for more)")
	choiceFlag(fs, &choiceValue{&o.LogFormat, []string{"text", "json"}}, "log-format", "the call log on stderr: text or json")
	fs.Var(&pathValue{&o.Record}, "record", "keep the class experiment in FILE (such as class.jsonl): read back at start, one line appended per call, so it survives a restart")
	return cmd
}

func runServe(cmd *cobra.Command, deps *env, o *serveOptions) error {
	host, port, err := net.SplitHostPort(o.Listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return &usageError{fmt.Errorf("--listen %s: want host:port, such as 127.0.0.1:8080 or 0.0.0.0:8080", o.Listen)}
	}
	for _, origin := range o.AllowOrigins {
		if err := classroom.CheckOrigin(origin); err != nil {
			return &usageError{fmt.Errorf("--allow-origin %s", err)}
		}
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
			return fmt.Errorf("--listen %s: that port is taken (another duplexdemo serve?); pick another, such as --listen %s", o.Listen, net.JoinHostPort(host, "8081"))
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			return fmt.Errorf("--listen %s: this machine has no address %s; use 127.0.0.1 or 0.0.0.0", o.Listen, host)
		case errors.Is(err, syscall.EACCES):
			return fmt.Errorf("--listen %s: not allowed to listen on port %s; use a port above 1023, such as 8080", o.Listen, port)
		}
		return fmt.Errorf("--listen %s: %w", o.Listen, err)
	}
	udp, err := listenUDP(ln.Addr().(*net.TCPAddr))
	if err != nil {
		ln.Close()
		return fmt.Errorf("--listen %s: no UDP socket for WebTransport beside it: %w", o.Listen, err)
	}
	room, torn, err := class.Open(class.Options{File: o.Record, Modes: classroom.ClassModes(), Script: classroom.ClassScript()})
	if err != nil {
		ln.Close()
		udp.Close()
		return err
	}
	defer room.Close()
	if torn > 0 {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: warning: --record %s: its last line was cut short (a write interrupted?) and is dropped\n", o.Record)
	}
	token := ""
	if o.Record != "" {
		if token, err = teacherToken(o.Record + ".teacher"); err != nil {
			ln.Close()
			udp.Close()
			return err
		}
	}
	status := newStatusLine(deps)
	var handler slog.Handler = slog.NewTextHandler(status.Above(deps.ErrOut), nil)
	if o.LogFormat == "json" {
		handler = slog.NewJSONHandler(status.Above(deps.ErrOut), nil)
	}
	srv, err := classroom.New(classroom.Config{
		Listener:     ln,
		Latency:      o.Latency,
		MaxCalls:     o.MaxCalls,
		AllowOrigins: o.AllowOrigins,
		Logger:       slog.New(handler),
		Class:        room,
		TeacherToken: token,
		Packet:       udp,
	})
	if err != nil {
		ln.Close()
		udp.Close()
		return err
	}
	if n := srv.MaxCalls(); n < o.MaxCalls {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: warning: --max-calls %d needs %d open files, but this process may have %d (ulimit -n): grandma takes at most %d calls at once; raise the limit (ulimit -n %d) or lower --max-calls\n",
			o.MaxCalls, classroom.FilesForCalls(o.MaxCalls), srv.OpenFiles(), n, classroom.FilesForCalls(o.MaxCalls))
	}
	addr := ln.Addr().(*net.TCPAddr)
	announce(deps.Out, deps.ErrOut, addr, udp.LocalAddr().(*net.UDPAddr).Port, o.Latency)
	fmt.Fprintf(deps.Out, "The class's calls, live, for the projector (this address can also start a\nnew experiment: keep it to yourself):\n  %s\n", teacherURL(addr, srv.TeacherToken()))
	if o.Record != "" {
		rec := room.Record()
		fmt.Fprintf(deps.Out, "The class record is kept in %s (experiment %d, %d calls so far).\n", o.Record, rec.Experiment.Number, len(rec.Calls))
	}
	tally := make(chan struct{})
	follow, stopFollow := context.WithCancel(cmd.Context())
	go func() {
		defer close(tally)
		status.Follow(follow, room)
	}()
	err = srv.Serve(cmd.Context())
	stopFollow()
	<-tally
	status.End()
	if err != nil {
		return err
	}
	fmt.Fprintln(deps.Out, "grandma has hung up; nothing is left running")
	return nil
}

// teacherToken returns the teacher's token kept in file, beside a record
// that survives a restart, so that the teacher's view open on the
// projector still may start a new experiment after one: a new token if
// there is none yet, written only for this user to read.
func teacherToken(file string) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		if t := strings.TrimSpace(string(b)); classroom.ValidToken(t) {
			return t, nil
		}
	}
	t := classroom.NewToken()
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err == nil {
		_, err = tmp.WriteString(t + "\n")
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), file)
		}
		os.Remove(tmp.Name())
	}
	if err != nil {
		if u := errors.Unwrap(err); u != nil {
			err = u // the system's reason, without the temporary file's name
		}
		return "", fmt.Errorf("--record: keeping the teacher's token beside the record in %s: %w", file, err)
	}
	return t, nil
}

// teacherURL is the teacher's view's address, with the token that lets it
// start a new experiment: on this machine's loopback when grandma listens
// on every network, since the teacher sits at this machine.
func teacherURL(addr *net.TCPAddr, token string) string {
	host := addr.String()
	if addr.IP.IsUnspecified() {
		host = net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port))
	}
	return fmt.Sprintf("http://%s%s#teacher=%s", host, webpage.ClassPath, token)
}

// announce says where grandma listens and what students type to call her,
// with a warning when she listens beyond this machine.
func announce(out, errOut io.Writer, addr *net.TCPAddr, udpPort int, latency time.Duration) {
	defer func() {
		if latency > 0 {
			fmt.Fprintf(out, "Her side of every call has an emulated link of %v each way.\n", latency)
		}
	}()
	ip, _ := netip.AddrFromSlice(addr.IP)
	ip = ip.Unmap()
	var hosts []string
	switch {
	case ip.IsLoopback():
		fmt.Fprintf(out, "grandma is listening on %s, on this machine only\n(--listen 0.0.0.0:%d lets the room call her).\n", addr, addr.Port)
		hosts = []string{addr.String()}
	case ip.IsUnspecified():
		fmt.Fprintf(out, "grandma is listening on port %d of every network this machine is on.\n", addr.Port)
		hosts = roomAddrs(addr.Port)
		fmt.Fprintf(errOut, "duplexdemo: warning: anyone who can reach port %d here can call her\n", addr.Port)
	default:
		fmt.Fprintf(out, "grandma is listening on %s.\n", addr)
		hosts = []string{addr.String()}
		fmt.Fprintf(errOut, "duplexdemo: warning: anyone who can reach %s can call her\n", addr)
	}
	var datagrams []string
	for _, m := range remoteModes() {
		if m.Datagrams {
			datagrams = append(datagrams, m.Name)
		}
	}
	if len(datagrams) > 0 {
		fmt.Fprintf(out, "%s comes to UDP port %d beside it (HTTP/3 over QUIC; a new certificate\nat start, its hash given to each caller).\n", strings.Join(datagrams, " and "), udpPort)
	}
	if len(hosts) == 0 {
		fmt.Fprintf(out, "This machine has no network address besides loopback; students on it can use http://127.0.0.1:%d\n", addr.Port)
		return
	}
	var keys []string
	for _, m := range remoteModes() {
		keys = append(keys, m.Key)
	}
	ends := modes.Ends()
	fmt.Fprintln(out, "Students call her with:")
	for _, h := range hosts {
		fmt.Fprintf(out, "  duplexdemo %s --server http://%s\n  duplexdemo %s --server http://%s\n", ends[0].Key, h, ends[1].Key, h)
	}
	fmt.Fprintf(out, "or any of %s the same way,\n", wordList(keys))
	fmt.Fprintln(out, "or, with only a browser, by opening:")
	for _, h := range hosts {
		fmt.Fprintf(out, "  http://%s/\n", h)
	}
	fmt.Fprintln(out, "Ctrl-C stops her (exit status 0). Each call is logged on stderr.")
}

// roomAddrs returns this machine's addresses on its networks, with port:
// the ones students in the room can use.
func roomAddrs(port int) []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
			continue
		}
		h := ip.String()
		if ip.Is6() {
			h = "[" + h + "]"
		}
		out = append(out, fmt.Sprintf("%s:%d", h, port))
	}
	return out
}

// listenUDP opens the UDP socket for WebTransport on the TCP listener's
// host: on the same port number when it is free there, so that one number
// reaches both, else on one the system picks.
func listenUDP(tcp *net.TCPAddr) (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: tcp.IP, Port: tcp.Port})
	if err == nil {
		return c, nil
	}
	return net.ListenUDP("udp", &net.UDPAddr{IP: tcp.IP})
}

// remoteModes returns the modes that can call a grandma elsewhere, in the
// registry's order.
func remoteModes() []call.Mode {
	var ms []call.Mode
	for _, m := range modes.All() {
		if m.Remote != nil {
			ms = append(ms, m)
		}
	}
	return ms
}

// wordList joins words for people: "a, b or c".
func wordList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
