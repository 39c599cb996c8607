package call

import "time"

// PhotoCrossing is how long the script's photo occupies the link's up
// direction at its bandwidth, and at most its jitter more: what a request
// written behind it waits beyond its own time for its answer. 0 without a
// photo or without a bandwidth.
func (s *Session) PhotoCrossing() time.Duration {
	if s.Script.Photo == "" || s.cfg.Bandwidth == 0 {
		return 0
	}
	return s.cfg.Bandwidth.TimeFor(int64(len(s.Script.Photo))) + s.cfg.Jitter
}
