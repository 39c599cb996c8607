package class

import (
	"bytes"
	"encoding/json"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
)

// Options configure a Room. The zero value keeps the record in memory.
type Options struct {
	// File, if not empty, keeps the record in a file that survives a
	// restart: Open reads it back, and each call is appended to it as one
	// line, in one write, synced to the disk before Add returns.
	File string
	// Modes are the modes the class plays, in order: Stats shows them
	// even before their first call.
	Modes []result.Mode
	// Script, if not nil, is the class's script: a call on another is set
	// apart (Call.Variant).
	Script *Script
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// Update is what a Room tells those watching it: a new call, or a new
// experiment (Call nil), with the stats as they now stand.
type Update struct {
	Call  *Call
	Stats Stats
}

// watchBuffer bounds the updates a watcher may fall behind by; past it,
// its channel is closed and it must watch again (a view that was asleep
// reloads).
const watchBuffer = 256

// Room is the current class experiment: its calls, kept in memory and, if
// asked, in a file; its watchers, told of every change. It is safe for use
// by many goroutines.
type Room struct {
	opts Options

	mu       sync.Mutex
	rec      Record
	stats    Stats
	file     *os.File
	watchers map[chan Update]struct{}
	closed   bool
}

// Open returns a room. With Options.File it reads the record back, if the
// file exists, and goes on with its last experiment; a line cut short at
// its end (a write a power cut interrupted) is dropped from the file, and
// torn says so. A new file starts experiment 1, written to a temporary
// file and renamed into place.
func Open(o Options) (r *Room, torn int, err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	r = &Room{opts: o, watchers: map[chan Update]struct{}{}}
	r.rec = Record{Format: Format, Version: Version, Experiment: Experiment{Number: 1, Started: r.now(), Script: o.Script}}
	if o.File == "" {
		r.restat()
		return r, 0, nil
	}
	data, err := os.ReadFile(o.File)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := r.create(); err != nil {
			return nil, 0, err
		}
	case err != nil:
		return nil, 0, fmt.Errorf("--record %s: %w", o.File, err)
	default:
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{\n")) {
			return nil, 0, fmt.Errorf("--record %s: that is a downloaded class record, not a file serve keeps; give a new file name (duplexdemo report reads this one)", o.File)
		}
		recs, n, good, err := readLines(data)
		if err != nil {
			return nil, 0, fmt.Errorf("--record %s: %w (is it a class record? start a new one under another name)", o.File, err)
		}
		torn = n
		f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, 0, fmt.Errorf("--record %s: %w", o.File, err)
		}
		if good < len(data) {
			if err := f.Truncate(int64(good)); err != nil {
				f.Close()
				return nil, 0, fmt.Errorf("--record %s: dropping its torn last line: %w", o.File, err)
			}
		}
		r.rec, r.file = *recs[len(recs)-1], f
	}
	r.restat()
	return r, torn, nil
}

func (r *Room) now() time.Time { return r.opts.Now().UTC().Truncate(time.Second) }

// create writes a new record file with the current experiment's start,
// atomically: a temporary file beside it, synced, renamed into place.
func (r *Room) create() error {
	name := r.opts.File
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("--record %s: %w", name, reason(err))
	}
	defer os.Remove(tmp.Name()) // once renamed, there is nothing to remove
	b, err := json.Marshal(line{Format: Format, Version: Version, Experiment: &r.rec.Experiment})
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("--record %s: %w", name, reason(err))
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("--record %s: %w", name, err)
	}
	r.file = f
	return nil
}

// appendLine appends one line to the record file, in one write, and syncs
// it; r.mu is held.
func (r *Room) appendLine(l line) error {
	if r.file == nil {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := r.file.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("--record %s: %w", r.opts.File, err)
	}
	if err := r.file.Sync(); err != nil {
		return fmt.Errorf("--record %s: %w", r.opts.File, err)
	}
	return nil
}

// restat works the stats out again; r.mu is held.
func (r *Room) restat() {
	r.stats = Summarize(r.rec.Experiment, r.rec.Calls, r.opts.Modes)
}

// ErrFull says an experiment holds MaxCalls calls already.
var ErrFull = fmt.Errorf("the experiment holds %d calls, as many as it keeps: start a new one", MaxCalls)

// errClosed says the room is closed.
var errClosed = errors.New("the class room is closed")

// Add adds a call to the experiment, numbered next, and tells the
// watchers. It returns the call as kept.
func (r *Room) Add(c Call) (Call, error) {
	if err := c.check(); err != nil {
		return Call{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Call{}, errClosed
	}
	if len(r.rec.Calls) >= MaxCalls {
		return Call{}, ErrFull
	}
	c.ID = len(r.rec.Calls) + 1
	if c.Script != nil && r.rec.Experiment.Script != nil {
		c.Variant = c.Script.Variant(*r.rec.Experiment.Script)
	}
	if c.Ended.IsZero() {
		c.Ended = r.now()
	}
	c.Ended = c.Ended.UTC().Truncate(time.Second)
	if err := r.appendLine(line{Call: &c}); err != nil {
		return Call{}, err
	}
	r.rec.Calls = append(r.rec.Calls, c)
	r.restat()
	r.tell(Update{Call: &c, Stats: r.stats})
	return c, nil
}

// NewExperiment starts a new experiment with no calls, and tells the
// watchers. In the file, the experiments before stay, above it.
func (r *Room) NewExperiment() (Experiment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Experiment{}, errClosed
	}
	exp := Experiment{Number: r.rec.Experiment.Number + 1, Started: r.now(), Script: r.opts.Script}
	if err := r.appendLine(line{Format: Format, Version: Version, Experiment: &exp}); err != nil {
		return Experiment{}, err
	}
	r.rec.Experiment, r.rec.Calls = exp, nil
	r.restat()
	r.tell(Update{Stats: r.stats})
	return exp, nil
}

// tell sends u to every watcher; one that has fallen too far behind is
// let go, its channel closed. r.mu is held.
func (r *Room) tell(u Update) {
	for ch := range r.watchers {
		select {
		case ch <- u:
		default:
			delete(r.watchers, ch)
			close(ch)
		}
	}
}

// Record returns the experiment as it stands.
func (r *Room) Record() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.rec
	rec.Calls = append([]Call(nil), r.rec.Calls...)
	return rec
}

// Stats returns the experiment's stats as they stand.
func (r *Room) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Watch returns the experiment as it stands and a channel of every change
// after it, until stop is called or the room closes (then the channel is
// closed). A watcher that falls watchBuffer updates behind has its
// channel closed too, and may watch again.
func (r *Room) Watch() (now Record, stats Stats, updates <-chan Update, stop func()) {
	ch := make(chan Update, watchBuffer)
	r.mu.Lock()
	defer r.mu.Unlock()
	now = r.rec
	now.Calls = append([]Call(nil), r.rec.Calls...)
	if r.closed {
		close(ch)
		return now, r.stats, ch, func() {}
	}
	r.watchers[ch] = struct{}{}
	return now, r.stats, ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.watchers[ch]; ok {
			delete(r.watchers, ch)
			close(ch)
		}
	}
}

// Close lets every watcher go and closes the record file.
func (r *Room) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	for ch := range r.watchers {
		delete(r.watchers, ch)
		close(ch)
	}
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

// reason is the system's reason for a failed file operation, without the
// path (a temporary file's name says nothing to the teacher).
func reason(err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}
