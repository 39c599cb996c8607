// A phone client for duplexdemo serve, written from docs/PROTOCOL.md alone
// (sections 5, 7 and 8), with nothing but Node's built-in WebSocket (Node
// 22 and later; Node 20.10 and later with --experimental-websocket):
//
//   node phone.mjs http://127.0.0.1:8080 [--script QUERY]
//
// One WebSocket at /call with the script as its query; each line one text
// message, sent the moment it is wanted. The goodbye goes as a text message
// (section 7.5): this WebSocket drops what arrives after it sends its own
// close frame, and grandma's record comes after the goodbye. The call is
// named in the query (section 7.1), so that it can be reported to the
// class once it is over (section 17).

import { CALL_PARAM, Call, RECORD_PREFIX, fail, main, newCallID } from './common.mjs';

main('phone', async (base, script) => {
  if (typeof WebSocket !== 'function') {
    fail(`Node ${process.version} has no built-in WebSocket: use Node 22 or later, or Node 20.10 or later with --experimental-websocket`);
  }
  const call = new Call(script);
  const id = newCallID();
  const [first, ...rest] = script.cues;
  await call.due(first);
  const opening = call.want(first); // it goes once the WebSocket is open
  await new Promise((resolve, reject) => {
    let saidGoodbye = false;
    const failed = (err) => {
      reject(err);
      try { ws.close(); } catch { /* closing already */ }
    };
    const ws = new WebSocket(`ws${base.slice('http'.length)}/call?${script.query}&${CALL_PARAM}=${id}`);
    const say = (line) => {
      call.said_(line);
      ws.send(line.text);
      if (line.label === 'goodbye') saidGoodbye = true;
    };
    ws.onopen = () => {
      if (ws.protocol !== '') return failed(new Error(`grandma chose a subprotocol, ${ws.protocol}`));
      say(opening);
      (async () => {
        for (const cue of rest) {
          await call.due(cue);
          if (ws.readyState !== WebSocket.OPEN) return;
          say(call.want(cue));
        }
      })().catch(failed);
    };
    ws.onmessage = (e) => {
      try {
        if (typeof e.data !== 'string') fail('grandma sent a message that is not text');
        if (e.data.startsWith(RECORD_PREFIX)) call.takeRecord(e.data);
        else {
          if (call.record !== null) fail('grandma said something after her record');
          call.hear(e.data);
        }
      } catch (err) {
        failed(err);
      }
    };
    ws.onerror = () => {
      // A refused handshake (400, 403, 503) shows only as this (section 7.2).
      reject(new Error(`the WebSocket to grandma failed (a refused handshake, section 7.2, looks like this; try curl -i '${base}/call?${script.query}')`));
    };
    ws.onclose = (e) => {
      if (e.code !== 1000 || !saidGoodbye) {
        reject(new Error(`grandma hung up with ${e.code} ${JSON.stringify(e.reason)} ${saidGoodbye ? 'after' : 'before'} the goodbye`));
        return;
      }
      try {
        call.hear(e.reason); // her farewell, in her close frame
        resolve();
      } catch (err) {
        reject(err);
      }
    };
  });
  call.finish('phone');
  return { call, id };
});
