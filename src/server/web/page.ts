// The chat page served at GET /: plain HTML and script, streaming from /v1/chat/completions, with a stop
// button and the speed of the last reply (llama-server's timings).
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>llama4</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#222}
#log{white-space:pre-wrap}.u{margin:.8rem 0 .2rem;font-weight:600}.u:before{content:"> "}.a{margin:.2rem 0}
form{display:flex;gap:.5rem;margin-top:1rem}textarea{flex:1;font:inherit;min-height:3rem}
#status{color:#777;font-size:.85rem;margin-top:.4rem}
</style></head><body>
<h1 id="title">llama4</h1>
<div id="log"></div>
<form id="f"><textarea id="msg" placeholder="Message (Enter sends, Shift-Enter: new line)"></textarea>
<button id="send" type="submit">Send</button><button id="stop" type="button" disabled>Stop</button></form>
<div id="status"></div>
<script>
const log = document.getElementById('log'), msg = document.getElementById('msg'), status = document.getElementById('status');
const sendB = document.getElementById('send'), stopB = document.getElementById('stop');
const history = [];
let ctrl = null;
fetch('/v1/models').then(r => r.json()).then(j => { document.getElementById('title').textContent = 'llama4 · ' + j.data[0].id; }).catch(() => {});
function add(cls, text) { const d = document.createElement('div'); d.className = cls; d.textContent = text; log.appendChild(d); return d; }
msg.addEventListener('keydown', e => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); document.getElementById('f').requestSubmit(); } });
stopB.onclick = () => ctrl && ctrl.abort();
document.getElementById('f').onsubmit = async e => {
  e.preventDefault();
  const text = msg.value.trim(); if (!text || ctrl) return;
  msg.value = ''; add('u', text); history.push({ role: 'user', content: text });
  const out = add('a', ''); ctrl = new AbortController(); sendB.disabled = true; stopB.disabled = false; status.textContent = 'thinking…';
  let reply = '', timings = null;
  try {
    const r = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ messages: history, stream: true }), signal: ctrl.signal });
    if (!r.ok) { const j = await r.json(); throw new Error(j.error ? j.error.message : r.statusText); }
    const rd = r.body.getReader(), dec = new TextDecoder(); let buf = '';
    for (;;) {
      const { value, done } = await rd.read(); if (done) break;
      buf += dec.decode(value, { stream: true });
      let i; while ((i = buf.indexOf('\\n\\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 2);
        if (!line.startsWith('data: ')) continue; const data = line.slice(6); if (data === '[DONE]') continue;
        const j = JSON.parse(data); if (j.error) throw new Error(j.error.message);
        const d = j.choices && j.choices[0] && j.choices[0].delta; if (d && d.content) { reply += d.content; out.textContent = reply; }
        if (j.timings) timings = j.timings;
      }
    }
    status.textContent = timings ? timings.predicted_n + ' tokens, ' + timings.predicted_per_second.toFixed(1) + ' t/s (prompt ' + timings.prompt_n + ' tokens, ' + timings.cache_n + ' cached)' : '';
  } catch (err) {
    if (err.name === 'AbortError') status.textContent = 'stopped'; else { status.textContent = 'error: ' + err.message; }
  } finally {
    if (reply) history.push({ role: 'assistant', content: reply }); else history.pop();
    ctrl = null; sendB.disabled = false; stopB.disabled = true;
  }
};
</script></body></html>
`;
