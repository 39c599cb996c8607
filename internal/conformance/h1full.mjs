// An h1full client for duplexdemo serve, written from the h1full call's
// protocol notes alone (one HTTP/1.1 POST whose chunked body the grandchild
// keeps writing while grandma's chunked answer streams), with nothing but
// Node's http module:
//
//   node h1full.mjs http://127.0.0.1:8080 [--script QUERY]
//
// One POST /duplex on a connection of its own, with the script and the
// call's name in its query. Its head goes at once; grandma answers hers
// before she has heard a line, and the question goes once her head has been
// read (so the client holds her to that). Then each line is one chunk,
// text and a newline, written the moment it is wanted, while her lines are
// read as they come; the goodbye is the last chunk and the body ends with
// it. After her farewell comes one more line, her record, and her answer
// ends: with no Duplexdemo-Hang-Up trailer, which only a call hung up early
// has. The call is then reported to the class.

import http from 'node:http';

import {
  CALL_PARAM, Call, Failure, MAX_RECORD, RECORD_PREFIX, VERSION, VERSION_HEADER, fail, main, newCallID,
} from './common.mjs';

const PATH = '/duplex';
const HANG_UP = 'Duplexdemo-Hang-Up';
// Bounds of the client's own waits, generous: a classroom server may be busy.
const ANSWER_WAIT_MS = 25000; // for her answer's head
const LINE_MAX = 4096; // one of her lines, without its newline
const SILENCE_MS = 30000; // the connection idle both ways

main('h1full', async (base, script) => {
  const call = new Call(script);
  const id = newCallID();
  const [first, ...rest] = script.cues;
  await call.due(first);
  const opening = call.want(first); // it goes once her answer's head is read
  const url = new URL(`${base}${PATH}?${script.query}&${CALL_PARAM}=${id}`);
  await new Promise((resolve, reject) => {
    let answered = false; // her answer's head has been read
    let saidGoodbye = false;
    let farewell = false;
    let done = false;
    let buf = Buffer.alloc(0);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const end = (err) => {
      if (done) return;
      done = true;
      clearTimeout(answerTimer);
      if (err) {
        reject(err);
        req.destroy();
      } else {
        resolve();
      }
    };
    const guard = (fn) => (...args) => {
      try {
        fn(...args);
      } catch (err) {
        end(err);
      }
    };
    // agent: false: a connection of its own, for this one request.
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        [VERSION_HEADER]: String(VERSION),
        // No Content-Length: Node chunks the body, one chunk a write.
      },
    });
    const say = (line) => {
      call.said_(line);
      if (line.label === 'goodbye') {
        saidGoodbye = true;
        req.end(line.text + '\n'); // its chunk, then the terminating chunk
      } else {
        req.write(line.text + '\n');
      }
    };
    const answerTimer = setTimeout(() => end(new Error(`grandma did not answer within ${ANSWER_WAIT_MS} ms`)), ANSWER_WAIT_MS);
    req.setTimeout(SILENCE_MS, () => end(new Error(`the connection to grandma was idle for ${SILENCE_MS} ms`)));
    req.on('error', (err) => end(new Error(`the request to grandma failed: ${err.message}`)));

    // lines hears each whole line that has come.
    const lines = () => {
      for (;;) {
        const nl = buf.indexOf(0x0a);
        const max = farewell ? MAX_RECORD : LINE_MAX;
        if (nl < 0) {
          if (buf.length > max) fail(`grandma sent a line over ${max} bytes`);
          return;
        }
        if (nl > max) fail(`grandma sent a line over ${max} bytes`);
        const text = decoder.decode(buf.subarray(0, nl));
        buf = buf.subarray(nl + 1);
        if (call.record !== null) fail('grandma said something after her record');
        if (farewell) {
          if (!text.startsWith(RECORD_PREFIX)) fail(`grandma said ${JSON.stringify(text.slice(0, 80))} after her farewell; only her record may follow it`);
          call.takeRecord(text);
          continue;
        }
        farewell = call.hear(text) === 'farewell';
      }
    };

    req.on('response', guard((res) => {
      answered = true;
      clearTimeout(answerTimer);
      const header = (name) => res.headers[name.toLowerCase()];
      const version = header(VERSION_HEADER);
      if (version === undefined) fail(`${url.host} is not duplexdemo serve: it answered ${res.statusCode} without ${VERSION_HEADER}`);
      if (version !== String(VERSION)) fail(`the server speaks protocol ${version}; this client speaks ${VERSION}`);
      if (res.statusCode !== 200) {
        // A refusal: one line of plain text, and the connection closed.
        let why = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { why += d; });
        res.on('end', () => end(new Failure(`grandma answered ${res.statusCode}: ${why.split('\n')[0]}`)));
        res.on('error', () => end(new Failure(`grandma answered ${res.statusCode}`)));
        return;
      }
      if (saidGoodbye) fail('grandma\'s answer came after the goodbye: she must answer before she hears a line');
      if (header('Content-Type') !== 'text/plain; charset=utf-8') fail(`her answer's Content-Type is ${header('Content-Type')}`);
      if (header('Transfer-Encoding') !== 'chunked') fail(`her answer is not chunked (Transfer-Encoding: ${header('Transfer-Encoding')})`);
      res.on('data', guard((chunk) => {
        buf = Buffer.concat([buf, chunk]);
        lines();
      }));
      res.on('end', guard(() => {
        const why = res.trailers[HANG_UP.toLowerCase()];
        if (buf.length > 0) fail('grandma\'s answer ended in the middle of a line');
        if (!farewell) {
          fail(`grandma hung up ${saidGoodbye ? 'after' : 'before'} the goodbye, without her farewell${why ? `: ${why}` : ' (and no ' + HANG_UP + ' trailer)'}`);
        }
        if (why !== undefined) fail(`grandma said her farewell, yet ended her answer with ${HANG_UP}: ${why}`);
        if (call.record === null) fail('grandma\'s answer ended after her farewell without her record');
        if (!saidGoodbye) fail('grandma\'s answer ended before the goodbye was said');
        end();
      }));
      res.on('error', (err) => end(new Error(`grandma's answer broke off: ${err.message}`)));
      res.on('aborted', () => end(new Error('grandma\'s answer was cut off')));
      say(opening);
      (async () => {
        for (const cue of rest) {
          await call.due(cue);
          if (done) return;
          say(call.want(cue));
        }
      })().catch(end);
    }));
    req.on('close', () => {
      if (!answered) end(new Error('the connection closed before grandma answered'));
    });
    req.flushHeaders(); // the request's head goes now, before any line
  });
  call.finish('h1full');
  return { call, id };
});
