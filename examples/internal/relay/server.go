package relay

import (
	"context"
	"encoding/json"
	"errors"
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
}

// server keeps every message, answers polls with the new ones, and pushes
// each to every WebSocket subscriber the moment it has it.
type server struct {
	hub *Hub

	// wg counts the WebSocket handlers, which Shutdown does not wait for.
	wg sync.WaitGroup

	mu   sync.Mutex
	log  []posted
	subs map[chan posted]struct{}
}

func newServer(h *Hub) *server { return &server{hub: h, subs: map[chan posted]struct{}{}} }

// serve serves on ln and returns the function that stops it.
func (s *server) serve(ln net.Listener) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("/send", s.send)
	mux.HandleFunc("/since", s.since)
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

// post keeps a message and pushes it to every subscriber.
func (s *server) post(from, data string, sent int64) {
	s.mu.Lock()
	p := posted{Seq: len(s.log) + 1, From: from, Data: data, SentNS: sent}
	s.log = append(s.log, p)
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMessage))
	if err != nil {
		http.Error(w, "a message may be at most 4 KiB", http.StatusRequestEntityTooLarge)
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
	var out []posted
	if n < len(s.log) {
		out = append(out, s.log[n:]...)
	}
	s.mu.Unlock()
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
	conn.SetReadLimit(MaxMessage + 256)
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
			s.post(name, m.Data, m.SentNS)
		}
	}()
	for {
		select {
		case p := <-sub:
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
