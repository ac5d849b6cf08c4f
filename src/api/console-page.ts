/**
 * The console's one page (issue 16 item 3): devices, tasks with their stage graph, subtasks,
 * placement, progress and status history, and a result browser that draws boxes on the frames.
 * It holds no data and no secret: it asks for a token, keeps it in sessionStorage, and reads the
 * same guarded JSON routes as any client, every 2 s (live). No framework, no external asset.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>retinad console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 16px;display:flex;gap:16px;align-items:center}
header b{font-size:16px} header span{opacity:.7}
main{display:grid;grid-template-columns:minmax(320px,1fr) 2fr;gap:12px;padding:12px}
section{background:#fff;border-radius:6px;padding:10px 12px;box-shadow:0 1px 2px #0002}
h2{font-size:15px;margin:0 0 8px} table{border-collapse:collapse;width:100%} td,th{padding:3px 6px;text-align:left;border-bottom:1px solid #eee;font-size:13px}
tr.sel{background:#e8f0fe} tr[data-task]{cursor:pointer}
.on{color:#12803c}.off{color:#b42318} .st{padding:1px 6px;border-radius:8px;background:#eee;font-size:12px}
.s0{background:#d1fadf}.s1{background:#dbeafe}.s2{background:#fef3c7}.s3{background:#e5e7eb}.s4{background:#fee4e2}
.bar{height:6px;background:#eee;border-radius:3px;width:80px;display:inline-block;vertical-align:middle}.bar i{display:block;height:6px;background:#2563eb;border-radius:3px}
#graph{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:6px 0}.node{border:1px solid #94a3b8;border-radius:6px;padding:4px 8px;background:#f8fafc}.arrow{color:#64748b}
#results{display:flex;flex-wrap:wrap;gap:8px}.res{position:relative;font-size:11px;width:240px}.res canvas{width:240px;border:1px solid #ddd;background:#111}
#login{padding:40px;text-align:center} input{font:inherit;padding:4px 8px;width:360px} button{font:inherit}
#err{color:#b42318}
</style></head><body>
<header><b>retinad console</b><span id="host"></span><span id="updated"></span><span id="err"></span></header>
<div id="login" hidden><p>Bearer token (the node token, or an initiator's):</p><input id="token" type="password" autocomplete="off"> <button id="go">Open</button></div>
<main id="app" hidden>
<section><h2>Devices</h2><table id="devices"><thead><tr><th>DeviceID</th><th>type</th><th>state</th><th>CPU</th><th>algorithms</th></tr></thead><tbody></tbody></table>
<h2 style="margin-top:14px">Tasks</h2><table id="tasks"><thead><tr><th>name</th><th>status</th><th>progress</th><th>results</th><th>created</th></tr></thead><tbody></tbody></table></section>
<section id="detail"><h2 id="dtitle">Select a task</h2><div id="graph"></div>
<table id="subtasks"><thead><tr><th>subtask</th><th>executor</th><th>status</th><th>progress</th><th>exception</th></tr></thead><tbody></tbody></table>
<h2 style="margin-top:14px">Status history</h2><table id="history"><tbody></tbody></table>
<h2 style="margin-top:14px">Results <span id="rcount"></span></h2><div id="results"></div></section>
</main>
<script>
const STATUS = ['done', 'running', 'paused', 'queued', 'failed'];
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
let token = sessionStorage.getItem('retinad-token');
let selected = null;
const seen = new Map();
async function get(path) {
  const r = await fetch(path, { headers: token ? { authorization: 'Bearer ' + token } : {} });
  if (r.status === 401) { sessionStorage.removeItem('retinad-token'); token = null; showLogin(); throw new Error('token not accepted'); }
  const j = await r.json();
  if (!r.ok) throw new Error(j.Message || ('HTTP ' + r.status));
  return j;
}
const st = (s) => '<span class="st s' + s + '">' + (STATUS[s] ?? s) + '</span>';
const bar = (p) => '<span class="bar"><i style="width:' + (p | 0) + '%"></i></span> ' + (p | 0) + '%';
function showLogin() { $('login').hidden = false; $('app').hidden = true; }
async function devices() {
  try {
    const d = await get('/System/DeviceList');
    $('host').textContent = d.Host;
    $('devices').tBodies[0].innerHTML = d.DeviceList.map((x) => '<tr data-device="' + esc(x.DeviceID) + '"><td>' + esc(x.DeviceID) + '</td><td>' + esc(x.DeviceType) + '</td><td class="' + (x.Online ? 'on' : 'off') + '">' + (x.Online ? 'online' : 'offline') +
      '</td><td>' + esc(x.AvailableResource?.ResourceInfo?.CommonResource?.AvailableCPU ?? '') + '</td><td>' + x.AlgInfoList.map((a) => esc(a.AlgType) + '@' + esc(a.AlgVersion)).join(', ') + '</td></tr>').join('');
  } catch (e) { $('devices').tBodies[0].innerHTML = '<tr><td colspan="5">' + esc(e.message) + '</td></tr>'; }
}
async function tasks() {
  const l = await get('/System/TaskList?limit=50');
  if (!selected && l.TaskList.length) selected = l.TaskList[0].TaskID;
  $('tasks').tBodies[0].innerHTML = l.TaskList.map((t) => '<tr data-task="' + esc(t.TaskID) + '" class="' + (t.TaskID === selected ? 'sel' : '') + '"><td>' + esc(t.TaskName || t.TaskID.slice(0, 8)) + '</td><td>' + st(t.ExecutionStatus) +
    '</td><td>' + bar(t.Progress) + '</td><td>' + t.Results + '</td><td>' + esc(t.CreateTime.slice(11, 19)) + '</td></tr>').join('');
}
async function detail() {
  if (!selected) return;
  const info = (await get('/System/TaskInfo/' + encodeURIComponent(selected))).TaskInfo;
  $('dtitle').innerHTML = esc(info.TaskName || info.TaskID) + ' ' + st(info.ExecutionStatus);
  const subs = info.SubtaskInfoList || [];
  // The stage graph: each subtask, with an arrow to where its results go (DstDeviceList).
  $('graph').innerHTML = subs.map((s) => '<span class="node" data-subtask="' + esc(s.TaskDispatchInfo.TaskID) + '">' + esc(s.TaskDispatchInfo.TaskID.split('.').slice(1).join('.') || 'subtask') + '<br><small>' + esc(s.TaskExecutor.DeviceID) + '</small></span><span class="arrow">→ ' +
    esc((s.TaskDispatchInfo.DstDeviceList || []).map((d) => d.DeviceID).join(', ') || 'scheduler') + '</span>').join('');
  $('subtasks').tBodies[0].innerHTML = subs.map((s) => '<tr><td>' + esc(s.TaskDispatchInfo.TaskID) + '</td><td>' + esc(s.TaskExecutor.DeviceID) + '</td><td>' + st(s.TaskStatusInfo.ExecutionStatus) + '</td><td>' + bar(s.TaskStatusInfo.Progress) +
    '</td><td>' + esc(s.TaskStatusInfo.ExceptionCode !== undefined ? s.TaskStatusInfo.ExceptionCode + ' ' + (s.TaskStatusInfo.ExceptionDesc || '') : '') + '</td></tr>').join('');
  const h = await get('/System/TaskHistory/' + encodeURIComponent(selected));
  $('history').tBodies[0].innerHTML = h.History.slice(-12).map((e) => '<tr><td>' + esc(e.At.slice(11)) + '</td><td>' + esc(e.SubtaskID || 'task') + '</td><td>' + st(e.ExecutionStatus) + '</td></tr>').join('');
  await results();
}
async function results() {
  const key = selected;
  // Full pages are kept (their cursor is Next); the last, partial page is read again each time.
  let s = seen.get(key);
  if (!s) { s = { after: '0', full: [], partial: [] }; seen.set(key, s); }
  for (let i = 0; i < 10; i++) {
    const p = await get('/System/TaskResult/' + encodeURIComponent(key) + '?limit=20&after=' + s.after);
    if (!p.Next) { s.partial = p.TaskResultList; break; }
    s.full.push(...p.TaskResultList); s.partial = []; s.after = p.Next;
    if (s.full.length > 200) s.full = s.full.slice(-100);
  }
  if (key !== selected) return;
  const items = s.full.concat(s.partial);
  $('rcount').textContent = '(' + items.length + ')';
  const box = $('results');
  box.innerHTML = '';
  for (const r of items.slice(-12).reverse()) box.appendChild(card(r));
}
function card(r) {
  const div = document.createElement('div');
  div.className = 'res';
  const c = document.createElement('canvas');
  const img = r.TaskResultData.ImageResult;
  const a = (r.TaskResultData.AnalysisResult || [])[0];
  const rd = a ? a.ResultData || {} : {};
  const w = img?.ImageInfo?.Width || rd.FrameWidth || 640, h = img?.ImageInfo?.Height || rd.FrameHeight || 360;
  c.width = w; c.height = h;
  const g = c.getContext('2d');
  const boxes = (rd.Boxes || []);
  const draw = () => {
    g.strokeStyle = '#22c55e'; g.lineWidth = Math.max(2, w / 300); g.fillStyle = '#22c55e'; g.font = Math.max(14, w / 40) + 'px sans-serif';
    for (const b of boxes) { g.strokeRect(b.x, b.y, b.w, b.h); if (b.Text) g.fillText(b.Text, b.x, Math.max(14, b.y - 4)); }
  };
  if (img?.ImageData) { const im = new Image(); im.onload = () => { g.drawImage(im, 0, 0, w, h); draw(); div.dataset.drawn = '1'; }; im.src = 'data:image/jpeg;base64,' + img.ImageData; }
  else { draw(); div.dataset.drawn = '1'; }
  div.appendChild(c);
  const cap = document.createElement('div');
  cap.textContent = r.DeviceID + ' · pts ' + (img?.ImageInfo?.Pts ?? rd.Pts ?? '') + (boxes.length ? ' · ' + boxes.length + ' boxes' : '');
  div.appendChild(cap);
  return div;
}
async function tick() {
  try { await Promise.all([devices(), tasks()]); await detail(); $('err').textContent = ''; $('updated').textContent = 'updated ' + new Date().toLocaleTimeString(); }
  catch (e) { $('err').textContent = e.message; }
}
$('tasks').addEventListener('click', (e) => { const tr = e.target.closest('tr[data-task]'); if (tr) { selected = tr.dataset.task; void tick(); } });
$('go').addEventListener('click', () => { token = $('token').value.trim(); sessionStorage.setItem('retinad-token', token); start(); });
function start() { $('login').hidden = true; $('app').hidden = false; void tick(); }
if (token) start(); else showLogin();
setInterval(() => { if (token) void tick(); }, 2000);
</script></body></html>
`;
