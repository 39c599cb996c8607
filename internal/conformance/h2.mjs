// An h2 client for duplexdemo serve, written from the h2 call's protocol
// notes alone (HTTP/2 in cleartext with prior knowledge: the call's stream
// both ways, and a stream of its own for each urgent line), with nothing but
// Node's http2 module:
//
//   node h2.mjs http://127.0.0.1:8080 [--script QUERY]
//
// One HTTP/2 connection (h2c, no Upgrade, no TLS) for the whole call. The
// call's stream is a POST /h2/call with the script and the call's name in
// its query; grandma answers its HEADERS at once, before she has heard a
// line, and the question goes once they have come (so the client holds her
// to that). The question and the goodbye are DATA on the call's stream, the
// goodbye ending the client's side of it; the interruption, urgent, is a
// POST /h2/urgent of one line on the same connection, answered on that
// stream with her answer (200) or nothing (204). Her story, afterthought
// and farewell come as DATA on the call's stream, then her record, and the
// stream ends, with no hang-up trailer (only a call hung up early has one).
// The client checks her SETTINGS as the notes give them, then closes the
// connection and reports the call to the class.

import http2 from 'node:http2';

import {
  CALL_PARAM, Call, Failure, MAX_RECORD, RECORD_PREFIX, VERSION, VERSION_HEADER, fail, main, newCallID,
} from './common.mjs';

const CALL_PATH = '/h2/call';
const URGENT_PATH = '/h2/urgent';
const URGENT = new Set(['interruption']); // the lines that go on a stream of their own
const HANG_UP = 'hang-up';
const CONTENT_TYPE = 'text/plain; charset=utf-8';
// Grandma's SETTINGS, as the notes give them.
const MAX_STREAMS = 8;
const STREAM_WINDOW = 65535; // HTTP/2's own initial window (PROTOCOL 9.1)
// Bounds of the client's own waits, generous: a classroom server may be busy.
const ANSWER_WAIT_MS = 25000; // for her HEADERS on a stream
const LINE_MAX = 4096; // one of her lines, without its newline
const SILENCE_MS = 30000; // a stream idle both ways

main('h2', async (base, script) => {
  const call = new Call(script);
  const id = newCallID();
  const [first, ...rest] = script.cues;
  await call.due(first);
  const opening = call.want(first); // it goes once her HEADERS have come
  const session = http2.connect(base, { settings: { enablePush: false } });
  try {
    await new Promise((resolve, reject) => {
      let answered = false; // her HEADERS on the call's stream have come
      let saidGoodbye = false;
      let farewell = false;
      let urgentOpen = 0; // urgent streams not yet ended
      let callEnded = false; // the call's stream has ended, after her record
      let done = false;
      let buf = Buffer.alloc(0);
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const end = (err) => {
        if (done) return;
        done = true;
        clearTimeout(answerTimer);
        if (err) reject(err);
        else resolve();
      };
      const guard = (fn) => (...args) => {
        try {
          fn(...args);
        } catch (err) {
          end(err);
        }
      };
      // finished ends the call once the call's stream and every urgent
      // stream have ended.
      const finished = () => {
        if (callEnded && urgentOpen === 0) end();
      };
      session.on('error', (err) => end(new Error(`the connection to grandma failed: ${err.message}`)));
      session.on('goaway', (code) => {
        if (!callEnded) end(new Error(`grandma sent GOAWAY (${code}) before the call's stream ended`));
      });
      session.on('close', () => {
        if (!callEnded) end(new Error('the connection to grandma closed before the call\'s stream ended'));
      });

      // checkHead checks a stream's answer is grandma's, in our version.
      const checkHead = (headers, what) => {
        const version = headers[VERSION_HEADER.toLowerCase()];
        if (version === undefined) fail(`${what}: the answer (${headers[':status']}) has no ${VERSION_HEADER}: is this duplexdemo serve?`);
        if (version !== String(VERSION)) fail(`${what}: the server speaks protocol ${version}; this client speaks ${VERSION}`);
      };
      // refused fails the call with a refusal's status and its one line.
      const refused = (stream, status, what) => {
        let why = '';
        stream.setEncoding('utf8');
        stream.on('data', (d) => { why += d; });
        stream.on('end', () => end(new Failure(`grandma answered ${what} with ${status}: ${why.split('\n')[0]}`)));
      };

      const stream = session.request({
        ':method': 'POST',
        ':path': `${CALL_PATH}?${script.query}&${CALL_PARAM}=${id}`,
        'content-type': CONTENT_TYPE,
        [VERSION_HEADER.toLowerCase()]: String(VERSION),
      }, { endStream: false });
      const answerTimer = setTimeout(() => end(new Error(`grandma did not answer the call's stream within ${ANSWER_WAIT_MS} ms`)), ANSWER_WAIT_MS);
      stream.setTimeout(SILENCE_MS, () => end(new Error(`the call's stream was idle for ${SILENCE_MS} ms`)));
      stream.on('error', (err) => end(new Error(`the call's stream failed: ${err.message}`)));

      // urgent sends one line on a stream of its own and hears her answer
      // to it there.
      const urgent = (line) => {
        const body = Buffer.from(line.text + '\n');
        const u = session.request({
          ':method': 'POST',
          ':path': URGENT_PATH,
          'content-type': CONTENT_TYPE,
          'content-length': String(body.length),
          [VERSION_HEADER.toLowerCase()]: String(VERSION),
        });
        urgentOpen++;
        const what = `the ${line.label}'s stream`;
        let ubuf = Buffer.alloc(0);
        let status = 0;
        let heard = false; // her one line on this stream
        const timer = setTimeout(() => end(new Error(`grandma did not answer ${what} within ${ANSWER_WAIT_MS} ms`)), ANSWER_WAIT_MS);
        u.on('error', (err) => end(new Error(`${what} failed: ${err.message}`)));
        u.on('response', guard((headers) => {
          clearTimeout(timer);
          status = headers[':status'];
          checkHead(headers, what);
          if (status !== 200 && status !== 204) return refused(u, status, `the ${line.label}`);
          // Her answer is heard once its newline has come, as any line
          // (not at the stream's end): a line she says next, on the call's
          // stream, may cross between the two.
          u.on('data', guard((chunk) => {
            if (status === 204) fail(`grandma answered ${what} 204, with a body`);
            if (heard) fail(`grandma said more than one line on ${what}`);
            ubuf = Buffer.concat([ubuf, chunk]);
            const nl = ubuf.indexOf(0x0a);
            if (nl < 0) {
              if (ubuf.length > LINE_MAX) fail(`grandma's answer on ${what} is over ${LINE_MAX} bytes`);
              return;
            }
            if (nl !== ubuf.length - 1) fail(`grandma said more than one line on ${what}`);
            heard = true;
            if (call.record !== null) fail(`grandma answered on ${what} after her record`);
            const label = call.hear(decoder.decode(ubuf.subarray(0, nl)));
            if (label !== 'answer') fail(`grandma answered the ${line.label} with her ${label}`);
          }));
          u.on('end', guard(() => {
            if (status === 200 && !heard) fail(`grandma answered ${what} 200 without a whole line: ${JSON.stringify(ubuf.toString('utf8').slice(0, 80))}`);
            urgentOpen--;
            finished();
          }));
        }));
        u.on('close', () => {
          if (status === 0) end(new Error(`${what} closed before grandma answered it`));
          else if (u.rstCode !== http2.constants.NGHTTP2_NO_ERROR) end(new Error(`${what} was reset (${u.rstCode})`));
        });
        call.said_(line);
        u.end(body); // one line, then END_STREAM
      };

      const say = (line) => {
        if (URGENT.has(line.label)) return urgent(line);
        call.said_(line);
        if (line.label === 'goodbye') {
          saidGoodbye = true;
          stream.end(line.text + '\n'); // the last DATA ends her side
        } else {
          stream.write(line.text + '\n');
        }
      };

      // lines hears each whole line that has come on the call's stream.
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
          const label = call.hear(text);
          if (label === 'answer') fail('grandma answered the interruption on the call\'s stream; it came on a stream of its own');
          farewell = label === 'farewell';
        }
      };

      let hangUp;
      stream.on('response', guard((headers) => {
        answered = true;
        clearTimeout(answerTimer);
        const status = headers[':status'];
        checkHead(headers, 'the call\'s stream');
        if (status !== 200) return refused(stream, status, 'the call\'s stream');
        if (saidGoodbye) fail('grandma\'s HEADERS came after the goodbye: she must answer before she hears a line');
        if (headers['content-type'] !== CONTENT_TYPE) fail(`her answer's content-type is ${headers['content-type']}`);
        const s = session.remoteSettings;
        if (s.maxConcurrentStreams !== MAX_STREAMS || s.initialWindowSize !== STREAM_WINDOW) {
          fail(`grandma's SETTINGS: ${s.maxConcurrentStreams} concurrent streams and a stream window of ${s.initialWindowSize}; want ${MAX_STREAMS} and ${STREAM_WINDOW}`);
        }
        stream.on('data', guard((chunk) => {
          buf = Buffer.concat([buf, chunk]);
          lines();
        }));
        stream.on('trailers', (trailers) => { hangUp = trailers[HANG_UP]; });
        stream.on('end', guard(() => {
          if (buf.length > 0) fail('the call\'s stream ended in the middle of a line');
          if (!farewell) {
            fail(`grandma hung up ${saidGoodbye ? 'after' : 'before'} the goodbye, without her farewell${hangUp ? `: ${hangUp}` : ' (and no hang-up trailer)'}`);
          }
          if (hangUp !== undefined) fail(`grandma said her farewell, yet ended the call's stream with ${HANG_UP}: ${hangUp}`);
          if (call.record === null) fail('the call\'s stream ended after her farewell without her record');
          if (!saidGoodbye) fail('the call\'s stream ended before the goodbye was said');
          callEnded = true;
          finished();
        }));
        say(opening);
        (async () => {
          for (const cue of rest) {
            await call.due(cue);
            if (done) return;
            say(call.want(cue));
          }
        })().catch(end);
      }));
      stream.on('close', () => {
        if (!answered) end(new Error('the call\'s stream closed before grandma answered'));
        else if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) end(new Error(`the call's stream was reset (${stream.rstCode})`));
      });
    });
  } finally {
    session.close(); // the call's stream has ended, or it failed
  }
  call.finish('h2');
  return { call, id };
});
