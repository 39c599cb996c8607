package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
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
	fs.Var(&studentValue{&o.Student}, "student", "with --server, the anonymous name the call is reported to the class under (such as calm-otter-42); default the one your last call kept, or a new one")
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
// for the end of the output), and keeps the student's name for her next
// calls; or it warns why the call could not be reported: a report that
// failed does not fail the call.
func reported(deps *env, res *result.Result, student string, err error) (note string, _ error) {
	var re *call.ReportError
	if errors.As(err, &re) {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: warning: %v\n", re)
		return "", nil
	}
	if err == nil && res != nil && res.Reported > 0 {
		keep := fmt.Sprintf("--student %s keeps the name", student)
		if keepStudent(deps, student) == nil {
			keep = "your next calls keep the name; --student NAME changes it"
		}
		note = fmt.Sprintf("On the teacher's view you are %s: this was call %d (%s).\n", student, res.Reported, keep)
	}
	return note, err
}

// studentFile is where a student's anonymous name is kept between calls:
// in the user's configuration directory ($XDG_CONFIG_HOME, or the
// system's), duplexdemo/student.
func studentFile(deps *env) (string, error) {
	dir := deps.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	return filepath.Join(dir, "duplexdemo", "student"), nil
}

// studentName returns the name a call is reported under: --student's, or
// the one kept from an earlier call, or a new one.
func studentName(deps *env, given string) string {
	if given != "" {
		return given
	}
	if file, err := studentFile(deps); err == nil {
		if b, err := os.ReadFile(file); err == nil {
			if name := strings.TrimSpace(string(b)); class.ValidName(name) {
				return name
			}
		}
	}
	return class.NewName()
}

// keepStudent keeps the name for the next calls, for this user alone.
func keepStudent(deps *env, name string) error {
	file, err := studentFile(deps)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(name+"\n"), 0o600)
}
