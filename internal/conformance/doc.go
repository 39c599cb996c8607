// Package conformance holds duplexdemo serve to its wire protocol as
// docs/PROTOCOL.md describes it, with clients nobody here would have
// written: walkie.mjs and phone.mjs, Node programs written from that
// document alone with Node's built-in fetch and WebSocket. Its test builds
// duplexdemo, starts `duplexdemo serve`, plays a walkie and a phone call
// with each client, and checks that each completed its call and got
// grandma's record, and that the record agrees with what the client saw
// and with what the server logged. Each client then reports its call to
// the class experiment (PROTOCOL.md section 12) under the name /script.json
// gave it, and the test checks that the server took the report and that
// the call is in the class record under that name.
//
// The test skips when node is missing, unless DUPLEXDEMO_REQUIRE_NODE=1 (as
// in CI), which makes that a failure. The phone needs a Node with a
// built-in WebSocket: 22 or later, or 20.10 or later, which the test gives
// --experimental-websocket.
package conformance
