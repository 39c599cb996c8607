package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// addServerFlag registers --server on fs.
func addServerFlag(fs *pflag.FlagSet, o *callOptions) {
	fs.Var(&serverValue{&o.Server}, "server", "call a grandma served elsewhere by duplexdemo serve, at this URL (such as http://192.168.1.20:8080), instead of playing both sides here")
	fs.Var(&studentValue{&o.Student}, "student", "with --server, the anonymous name the call is reported to the class under, as an earlier call printed it (such as calm-otter-42); default a new one")
}

// serverValue is the --server flag: a URL checked as it is given.
type serverValue struct{ p *string }

func (v *serverValue) String() string { return *v.p }
func (v *serverValue) Type() string   { return "URL" }
func (v *serverValue) Set(s string) error {
	u, err := wire.ServerURL(s, "http")
	if err != nil {
		return err // it says what was wrong, and what a URL looks like
	}
	*v.p = u
	return nil
}

// remoteError says what a failed call to a grandma elsewhere means for the
// person who made it.
func remoteError(err error, server string) error {
	// The innermost network error says what happened without the request's
	// URL, which repeats the server's and adds the script.
	var op *net.OpError
	cause := err
	if errors.As(err, &op) {
		cause = op
	}
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Errorf("cannot find %s: no such host; check the address the teacher's screen shows", server)
	case err == nil, errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nobody answers at %s: is duplexdemo serve running there, on that port? (%v)", server, cause)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach %s: check the address, and that the room's network lets the port through (%v)", server, cause)
	}
	return err
}

// studentValue is the --student flag: a name duplexdemo gives.
type studentValue struct{ p *string }

func (v *studentValue) String() string { return *v.p }
func (v *studentValue) Type() string   { return "NAME" }
func (v *studentValue) Set(s string) error {
	if !class.ValidName(s) {
		return fmt.Errorf("%q: want a name duplexdemo gave, such as %s (an adjective, an animal and a number from 10 to 99), never your own", s, class.NewName())
	}
	*v.p = s
	return nil
}

// reported says where the class can find a call reported to it (note,
// for the end of the output), or warns why it could not be; a report that
// failed does not fail the call.
func reported(deps *env, res *result.Result, student string, err error) (note string, _ error) {
	var re *call.ReportError
	if errors.As(err, &re) {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: warning: %v\n", re)
		return "", nil
	}
	if err == nil && res != nil && res.Reported > 0 {
		note = fmt.Sprintf("duplexdemo: on the teacher's view you are %s: this was call %d (--student %s keeps the name)\n", student, res.Reported, student)
	}
	return note, err
}
