package call

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testMode is a mode whose grandchild does what the test says: the
// lifecycle around it is what these tests check.
func testMode(grandchild func(s *Session) func(context.Context) error) Mode {
	return Mode{
		Mode: result.Mode{Key: "test", Name: "the test", Transport: "tcp"},
		Local: func(s *Session) Roles {
			return Roles{
				Grandma:    http.NotFoundHandler(),
				Grandchild: grandchild(s),
				Facts: func(tl *timeline.Timeline) []result.Fact {
					return []result.Fact{{Key: "events", Title: "events", Value: float64(len(tl.Events))}}
				},
			}
		},
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	m := testMode(func(*Session) func(context.Context) error { return func(context.Context) error { return nil } })
	var oe *story.OptionError
	if _, err := Run(context.Background(), m, Config{Script: story.Default(), Latency: -time.Millisecond}); !errors.As(err, &oe) || oe.Option != "latency" {
		t.Errorf("negative latency: got %v, want an OptionError for latency", err)
	}
	if _, err := Run(context.Background(), m, Config{}); err == nil {
		t.Error("no script: got no error")
	}
	m.Every = &Bounds{Default: time.Second, Min: time.Millisecond, Max: 2 * time.Second}
	if _, err := Run(context.Background(), m, Config{Script: story.Default(), Every: time.Minute}); !errors.As(err, &oe) || oe.Option != "every" {
		t.Errorf("a period out of bounds: got %v, want an OptionError for every", err)
	}
	if _, err := RunRemote(context.Background(), m, Config{Script: story.Default()}, "http://127.0.0.1:1"); err == nil {
		t.Error("a remote call in a mode without a remote role: got no error")
	}
}

// TestRunClosesWhatWasLeftOpen: a connection the grandchild never closed
// is closed when the call finishes, after a bounded wait, and recorded; the
// mode's facts are taken from the finished timeline.
func TestRunClosesWhatWasLeftOpen(t *testing.T) {
	m := testMode(func(s *Session) func(context.Context) error {
		return func(ctx context.Context) error {
			conn, err := s.DialContext(ctx, "tcp", s.Addr())
			_ = conn // left open on purpose
			return err
		}
	})
	start := time.Now()
	res, err := Run(context.Background(), m, Config{Script: story.Default(), Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > closeWait+ShutdownTimeout+time.Second {
		t.Errorf("Run took %v", d)
	}
	var kinds []timeline.Kind
	for _, e := range res.Timeline.Events {
		if e.Side == timeline.Client {
			kinds = append(kinds, e.Kind)
		}
	}
	if len(kinds) != 2 || kinds[0] != timeline.KindConnect || kinds[1] != timeline.KindClose || res.Connections != 1 {
		t.Errorf("the grandchild's events %v, %d connections; want connect, close and 1", kinds, res.Connections)
	}
	if res.Mode.Key != "test" || len(res.Facts) != 1 || res.Facts[0].Value != float64(len(res.Timeline.Events)) {
		t.Errorf("got mode %q and facts %+v, want the mode's and its count of %d events", res.Mode.Key, res.Facts, len(res.Timeline.Events))
	}
}

// TestRunPrefersTheContextsError: a call stopped by its context returns
// the context's error, whatever broke on the way out, and stops at once
// however slow the link.
func TestRunPrefersTheContextsError(t *testing.T) {
	m := testMode(func(s *Session) func(context.Context) error {
		return func(ctx context.Context) error {
			conn, err := s.DialContext(ctx, "tcp", s.Addr())
			if err != nil {
				return err
			}
			defer conn.Close()
			_, _ = conn.Write([]byte("hello")) // in flight for a while on a slow link
			_, err = conn.Read(make([]byte, 1))
			return errors.Join(errors.New("the connection broke"), err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, m, Config{Script: story.Default(), Latency: 2 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's error", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond+ShutdownTimeout+closeWait {
		t.Errorf("Run took %v to stop after its context ended", d)
	}
}

// TestRunReturnsTheGrandchildsError: a call that fails says why.
func TestRunReturnsTheGrandchildsError(t *testing.T) {
	broke := errors.New("she dropped the phone")
	m := testMode(func(*Session) func(context.Context) error { return func(context.Context) error { return broke } })
	if _, err := Run(context.Background(), m, Config{Script: story.Default()}); !errors.Is(err, broke) {
		t.Errorf("got %v, want %v", err, broke)
	}
}

// TestRemotePrepareIsNotTheCall: what the grandchild does before she calls
// a grandma elsewhere (RemoteRoles.Prepare) comes before the call's clock
// starts: however long it takes, the call's first moment is 0, and its
// time is not the call's; a failed preparation is the call's error, and
// nothing is left running.
func TestRemotePrepareIsNotTheCall(t *testing.T) {
	const prepare = 200 * time.Millisecond
	m := testMode(nil)
	m.Remote = func(s *Session, base string) RemoteRoles {
		return RemoteRoles{
			Prepare: func(ctx context.Context) error {
				time.Sleep(prepare)
				return nil
			},
			Grandchild: func(ctx context.Context) error {
				s.Rec.Record(timeline.Client, timeline.KindConnect, "opens a connection")
				return errors.New("nobody answered")
			},
			Record: func() []byte { return nil },
		}
	}
	res, err := RunRemote(context.Background(), m, Config{Script: story.Default()}, "http://127.0.0.1:1")
	if err == nil || err.Error() != "nobody answered" {
		t.Fatalf("got %v, want the grandchild's error", err)
	}
	if len(res.Timeline.Events) != 1 || res.Timeline.Events[0].At >= prepare {
		t.Errorf("the call's events %v: want its one connection before %v, the preparation's time left out", res.Timeline.Events, prepare)
	}
	m.Remote = func(s *Session, base string) RemoteRoles {
		return RemoteRoles{
			Prepare:    func(context.Context) error { return errors.New("no such grandma") },
			Grandchild: func(context.Context) error { t.Error("the call was placed after a failed preparation"); return nil },
			Record:     func() []byte { return nil },
		}
	}
	if _, err := RunRemote(context.Background(), m, Config{Script: story.Default()}, "http://127.0.0.1:1"); err == nil || err.Error() != "no such grandma" {
		t.Errorf("a failed preparation: got %v, want its error", err)
	}
}
