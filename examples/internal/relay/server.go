package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// posted is a message as the server keeps it.
type posted struct {
	Seq    int    `json:"seq"`
	From   string `json:"from"`
	Data   string `json:"data"`
	SentNS int64  `json:"sent_ns"`
	// PostedNS is when the server had all of it, on the hub's clock.
	PostedNS int64 `json:"posted_ns,omitempty"`
}

// server keeps every message, answers polls with the new ones, answers a
// waiting long poll the moment it has one, and pushes each to every
// WebSocket subscriber the moment it has it.
type server struct {
	hub *Hub

	// wg counts the WebSocket handlers, which Shutdown does not wait for.
	wg sync.WaitGroup

	mu   sync.Mutex
	log  []posted
	subs map[chan posted]struct{}
	// changed is closed and replaced when a message is posted: long polls
	// wait on it.
	changed chan struct{}
}

// longPollHold is how long the server holds a long poll with nothing new
// before answering it empty, as servers do so that no proxy on the way
// gives up on the request.
const longPollHold = 20 * time.Second

func newServer(h *Hub) *server {
	return &server{hub: h, subs: map[chan posted]struct{}{}, changed: make(chan struct{})}
}

// serve serves on ln and returns the function that stops it.
func (s *server) serve(ln net.Listener) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("/send", s.send)
	mux.HandleFunc("/since", s.since)
	mux.HandleFunc("/wait", s.wait)
	mux.HandleFunc("/ws", s.ws)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0),
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return func() error {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), time.Second)
		defer c()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
		err := <-done
		s.wg.Wait()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// post keeps a message, pushes it to every subscriber and wakes the long
// polls. Call it once all of the message was read.
func (s *server) post(from, data string, sent int64) {
	s.mu.Lock()
	p := posted{Seq: len(s.log) + 1, From: from, Data: data, SentNS: sent, PostedNS: int64(s.hub.Now())}
	s.log = append(s.log, p)
	close(s.changed)
	s.changed = make(chan struct{})
	for sub := range s.subs {
		select {
		case sub <- p:
		default: // a subscriber that cannot keep up misses it; its writer drops it
		}
	}
	s.mu.Unlock()
}

func (s *server) send(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a message", http.StatusMethodNotAllowed)
		return
	}
	limit := s.hub.cfg.maxMessage()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	if err != nil {
		http.Error(w, fmt.Sprintf("a message may be at most %d bytes", limit), http.StatusRequestEntityTooLarge)
		return
	}
	sent, err := strconv.ParseInt(r.URL.Query().Get("sent_ns"), 10, 64)
	if err != nil {
		http.Error(w, "sent_ns: want nanoseconds on the hub's clock", http.StatusBadRequest)
		return
	}
	s.post(r.URL.Query().Get("from"), string(body), sent)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) since(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "n: want the last message seen", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	out := s.sinceLocked(n, r.URL.Query().Get("name"))
	s.mu.Unlock()
	answer(w, out)
}

// wait answers at once with the messages after n (but the asker's) if
// there are any, or else the moment one is posted; empty after
// longPollHold.
func (s *server) wait(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "n: want the last message seen", http.StatusBadRequest)
		return
	}
	hold := time.NewTimer(longPollHold)
	defer hold.Stop()
	for {
		s.mu.Lock()
		out, changed := s.sinceLocked(n, r.URL.Query().Get("name")), s.changed
		s.mu.Unlock()
		if len(out) > 0 {
			answer(w, out)
			return
		}
		select {
		case <-changed:
		case <-hold.C:
			answer(w, nil)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// sinceLocked returns the messages after the nth but those from name, as
// many as fit in one answer (and at least one): a client is not sent back
// what it sent. The caller holds s.mu.
func (s *server) sinceLocked(n int, name string) []posted {
	var out []posted
	size := 0
	for _, p := range s.log[min(n, len(s.log)):] {
		if p.From == name {
			continue
		}
		if size += len(p.Data); len(out) > 0 && size > s.hub.cfg.maxBatch() {
			break
		}
		out = append(out, p)
	}
	return out
}

// answer writes messages as a poll's answer: a JSON array.
func answer(w http.ResponseWriter, out []posted) {
	if out == nil {
		out = []posted{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// ws pushes every message to one subscriber, and posts what it sends: one
// reading goroutine and one writing goroutine on the connection.
func (s *server) ws(w http.ResponseWriter, r *http.Request) {
	conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	defer conn.Close()
	conn.SetReadLimit(maxEncoded(s.hub.cfg.maxMessage()))
	sub := make(chan posted, 256)
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()
	name := r.URL.Query().Get("name")
	read := make(chan struct{})
	go func() {
		defer close(read)
		for {
			var m posted
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			if len(m.Data) > s.hub.cfg.maxMessage() {
				return // too long: the connection closes
			}
			s.post(name, m.Data, m.SentNS)
		}
	}()
	for {
		select {
		case p := <-sub:
			if p.From == name {
				continue // not back to its sender: it would take her link's bandwidth
			}
			_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if conn.WriteJSON(p) != nil {
				conn.Close()
				<-read
				return
			}
		case <-read:
			return
		case <-r.Context().Done():
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
			conn.Close()
			<-read
			return
		}
	}
}
