// A walkie client for duplexdemo serve, written from docs/PROTOCOL.md alone
// (sections 5, 6 and 8), with nothing but Node's built-in fetch:
//
//   node walkie.mjs http://127.0.0.1:8080 [--script QUERY]
//
// Each of the grandchild's lines is a POST /say; the first carries the
// script. Like a walkie-talkie, a line goes only once the answer before it
// has been read to its end, so the interruption waits for the story. Once
// the call is over, it is reported to the class (section 17).

import {
  CALL_HEADER, Call, RECORD_PREFIX, VERSION, VERSION_HEADER, checkVersionHeader, fail, main, newCallID,
} from './common.mjs';

main('walkie', async (base, script) => {
  const call = new Call(script);
  const id = newCallID();

  // say sends one wanted line and hears grandma's answer to its end
  // (section 6.2): a stream of lines, each ended by \n, the record among
  // them only as the last line of the goodbye's.
  async function say(line, first) {
    const url = `${base}/say${first ? `?${script.query}` : ''}`;
    call.said_(line);
    const resp = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        [VERSION_HEADER]: String(VERSION),
        [CALL_HEADER]: id,
      },
      body: line.text,
    });
    checkVersionHeader(resp, `the ${line.label}`);
    if (resp.status !== 200) fail(`grandma answered the ${line.label} with ${resp.status}: ${(await resp.text()).slice(0, 300)}`);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let buf = '';
    for await (const chunk of resp.body) {
      buf += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const heard = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (heard.startsWith(RECORD_PREFIX)) {
          if (line.label !== 'goodbye') fail(`grandma's record came with the answer to the ${line.label}`);
          call.takeRecord(heard);
        } else {
          if (call.record !== null) fail('grandma said something after her record');
          call.hear(heard);
        }
      }
    }
    buf += decoder.decode();
    if (buf !== '') fail(`grandma's answer to the ${line.label} ended in the middle of a line: ${JSON.stringify(buf.slice(0, 80))}`);
    // fetch hands the connection back to its pool a moment after the body
    // ends: wait for that, so that the next line takes the same connection
    // (section 6.4) rather than opening another.
    await new Promise((r) => setTimeout(r, 1));
  }

  // Each line is wanted at its time, once the story has reached its
  // milestone (section 5.2), and goes once the answer before has ended.
  let before = Promise.resolve();
  await Promise.all(script.cues.map((cue, i) => {
    const previous = before;
    const p = (async () => {
      await call.due(cue);
      const line = call.want(cue);
      await previous;
      await say(line, i === 0);
    })();
    before = p.catch(() => {});
    return p;
  }));
  call.finish('walkie');
  return { call, id };
});
