// Package conformance holds duplexdemo serve to its wire protocol as
// docs/PROTOCOL.md describes it, with clients nobody here would have
// written: Node programs written from that document alone, with Node's
// own modules only: walkie.mjs and phone.mjs (fetch and WebSocket),
// h1full.mjs (http: one request streamed up while its answer streams
// down), h2.mjs (http2: h2c with prior knowledge, the urgent line on a
// stream of its own) and tcp.mjs (net: the upgrade, then raw lines). Its
// tests build duplexdemo, start `duplexdemo serve`, play a call in each
// mode with its client, and check that each completed its call and got
// grandma's record, and that the record agrees with what the client saw
// and with what the server logged. Each client then reports its call to
// the class experiment (PROTOCOL.md section 17) under the name /script.json
// gave it, and the test checks that the server took the report and that
// the call is in the class record under that name.
//
// The test skips when node is missing, unless DUPLEXDEMO_REQUIRE_NODE=1 (as
// in CI), which makes that a failure. The phone needs a Node with a
// built-in WebSocket: 22 or later, or 20.10 or later, which the test gives
// --experimental-websocket.
package conformance
