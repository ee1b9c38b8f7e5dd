// The web client page (PROTOCOL.md section 11): sign-in, the conversation
// list with unread counts and presence, and one open conversation with
// ticks and typing indicators. Every protocol detail lives in longlink.js;
// this file only turns its state and events into DOM. Text from the network
// only ever reaches the page through textContent.
import {LonglinkClient, directConv, peerOf, targetOf} from './longlink.js';

const ID_RE = /^[A-Za-z0-9_.@-]{1,64}$/;
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const TYPING_SEND_MS = 2500;  // at most one typing indicator per this
const TYPING_SHOW_MS = 4000;  // an indicator shows this long

const $ = (id) => document.getElementById(id);
let client = null;
let active = '';                // the open conversation id
const online = new Map();       // user -> bool
const typing = new Map();       // conv -> Map(user -> expiry ms)
const historyAsked = new Set(); // convs whose older history was asked for
let lastTypingSent = 0;
let renderQueued = false;

// ---- sign-in ---------------------------------------------------------------

function deviceFor(key) {
  // One device per browser and user, kept across reloads: cursors (unread
  // counts) are per device. A second window of the same user takes the
  // session over (close 4009) and the first offers to take it back.
  const k = `longlink.device.${key}`;
  let d = localStorage.getItem(k);
  if (!d || !ID_RE.test(d)) {
    d = `web-${Math.random().toString(36).slice(2, 10)}`;
    localStorage.setItem(k, d);
  }
  return d;
}

function signIn(id) {
  $('signin-error').textContent = '';
  const isToken = JWT_RE.test(id);
  if (!isToken && !ID_RE.test(id)) {
    $('signin-error').textContent = 'A user name is 1 to 64 letters, digits or _.@-';
    return;
  }
  const opts = isToken ? {token: id} : {user: id};
  opts.device = deviceFor(isToken ? 'token' : id);
  opts.storage = localStorage;  // the outbox survives a reload
  client = new LonglinkClient(opts);
  window.longlink = client;     // for the console (and tests)
  let welcomed = false;
  client.addEventListener('welcome', (e) => {
    welcomed = true;
    sessionStorage.setItem('longlink.signin', id);
    $('signin').hidden = true;
    $('app').hidden = false;
    $('me').textContent = e.detail.user;
    onWelcome();
  });
  client.addEventListener('error', (e) => {
    const {code, msg} = e.detail;
    if (!welcomed && code === 'unauthorized') {
      client.close();
      client = null;
      sessionStorage.removeItem('longlink.signin');
      $('signin-error').textContent = isToken
        ? `The server rejected this token (${msg}).`
        : 'This server wants a token: it does not run with --auth none.';
      return;
    }
    if (code === 'history_regressed') console.warn('longlink:', msg);
    showSidebarError(code, msg);
  });
  client.addEventListener('state', (e) => onState(e.detail));
  client.addEventListener('replaced', () => {
    banner('longlink is open in another window.', 'Use here', () => client.connect());
  });
  client.addEventListener('message', (e) => onMessage(e.detail));
  client.addEventListener('ephemeral', (e) => onEphemeral(e.detail));
  client.addEventListener('presence', (e) => {
    online.set(e.detail.user, e.detail.online);
    queueRender();
  });
  for (const t of ['conv', 'receipt', 'ack']) client.addEventListener(t, queueRender);
  client.addEventListener('synced', () => {
    ensureHistory();
    refreshPresence();  // the conversations (and so the peers) are known now
    queueRender();
  });
  client.connect();
}

function signOut() {
  if (client) client.close();
  client = null;
  sessionStorage.removeItem('longlink.signin');
  location.reload();
}

// ---- events ----------------------------------------------------------------

function onState({state, delayMs}) {
  $('conn').dataset.state = state;
  $('conn').textContent = {open: 'online', connecting: 'connecting…', waiting: 'offline',
                           closed: 'offline', idle: ''}[state] || state;
  if (state === 'open') {
    hideBanner();
  } else if (state === 'waiting' && client.welcome === null && $('app').hidden === false) {
    banner(`Connection lost. Reconnecting in ${Math.ceil(delayMs / 1000)} s…`, 'Retry now', () => {
      client.close();
      client.connect();
    });
  } else if (state === 'waiting' && $('app').hidden) {
    $('signin-error').textContent = `Cannot reach the server; retrying in ${Math.ceil(delayMs / 1000)} s…`;
  }
  queueRender();
}

async function onWelcome() {
  $('signin-error').textContent = '';
  if (!active) {
    const saved = sessionStorage.getItem('longlink.active');
    if (saved) select(saved);
  }
  await refreshPresence();
}

async function refreshPresence() {
  const users = peers();
  if (!users.length || !client.welcome) return;
  client.watch(users);
  try {
    const state = await client.presence(users);
    for (const [u, s] of Object.entries(state)) online.set(u, s.online);
  } catch (e) {
    // Disconnected: asked again after the next welcome.
  }
  queueRender();
}

function peers() {
  const me = client.user;
  const set = new Set();
  for (const c of client.conversations()) {
    const p = peerOf(c.conv, me);
    if (p && p !== me) set.add(p);
  }
  return [...set];
}

function onMessage({conv, msg}) {
  const t = typing.get(conv);
  if (t) t.delete(msg.from);  // a message ends that user's typing
  const p = peerOf(conv, client.user);
  if (p && p !== client.user && !online.has(p)) refreshPresence();
  queueRender();
}

function onEphemeral(msg) {
  if (msg.from === client.user || !msg.body || msg.body.typing !== true) return;
  if (!typing.has(msg.conv)) typing.set(msg.conv, new Map());
  typing.get(msg.conv).set(msg.from, Date.now() + TYPING_SHOW_MS);
  queueRender();
  setTimeout(queueRender, TYPING_SHOW_MS + 50);
}

function showSidebarError(code, msg) {
  $('sidebar-error').textContent = msg ? `${code}: ${msg}` : code;
  setTimeout(() => { $('sidebar-error').textContent = ''; }, 6000);
}

// ---- actions ---------------------------------------------------------------

function select(conv) {
  active = conv;
  sessionStorage.setItem('longlink.active', conv);
  client.conversation(conv);
  $('text').disabled = false;
  $('composer').querySelector('button').disabled = false;
  ensureHistory();
  queueRender();
  $('text').focus();
}

// The open conversation shows its recent history: what lies below this
// device's recv cursor is loaded once (50 messages; more on request). Known
// only after a sync, so this runs on select and after each sync.
function ensureHistory() {
  if (!active || !client.welcome || historyAsked.has(active)) return;
  const c = client.conversation(active);
  if (!(c.base > 1)) return;
  const conv = active;
  historyAsked.add(conv);
  client.loadOlder(conv, 50).then(queueRender, () => historyAsked.delete(conv));
}

function sendText(text) {
  if (!active || !text) return;
  const to = targetOf(active, client.user);
  client.send(to, {text}).catch((e) => showSidebarError(e.code, e.message));
  lastTypingSent = 0;
  queueRender();
}

function sendTyping() {
  if (!active || !client.welcome) return;
  const now = Date.now();
  if (now - lastTypingSent < TYPING_SEND_MS) return;
  lastTypingSent = now;
  client.send(targetOf(active, client.user), {typing: true}, {ephemeral: true}).catch(() => {});
}

// ---- rendering -------------------------------------------------------------

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    if (client) render();
  });
}

function render() {
  // Read what is shown: the open conversation, while the page is visible.
  if (active && document.visibilityState === 'visible' && client.welcome) client.markRead(active);
  renderConvs();
  renderChat();
}

function titleOf(conv) {
  if (conv.startsWith('g:')) return `#${conv.slice(2)}`;
  const p = peerOf(conv, client.user);
  return p === client.user ? `${p} (you)` : p;
}

function isOnline(conv) {
  const p = peerOf(conv, client.user);
  if (!p) return null;  // groups have no dot state
  return p === client.user ? client.state === 'open' : online.get(p) === true;
}

// Unread: messages above this device's read cursor not written by us; ones
// not loaded yet (below the loaded window, or not yet pulled) count too.
function unreadOf(c) {
  let n = 0;
  const top = Math.max(c.last, c.held);
  for (let s = c.read + 1; s <= top && n < 1000; s++) {
    const m = c.msgs.get(s);
    if (!m || m.from !== client.user) n++;
  }
  return n;
}

function typingNames(conv) {
  const t = typing.get(conv);
  if (!t) return [];
  const now = Date.now();
  for (const [u, exp] of t) if (exp <= now) t.delete(u);
  return [...t.keys()];
}

function lastActivity(c) {
  let ts = 0;
  for (const m of c.msgs.values()) ts = Math.max(ts, m.ts || 0);
  for (const o of client.outbox()) if (o.conv === c.conv) ts = Math.max(ts, o.ts);
  return ts;
}

function renderConvs() {
  const list = client.conversations()
    .filter((c) => c.last > 0 || c.conv.startsWith('g:') || c.conv === active || c.msgs.size)
    .map((c) => ({c, ts: lastActivity(c)}))
    .sort((a, b) => b.ts - a.ts || (a.c.conv < b.c.conv ? -1 : 1));
  const ul = $('convs');
  ul.replaceChildren(...list.map(({c}) => {
    const li = document.createElement('li');
    li.dataset.conv = c.conv;
    li.classList.toggle('active', c.conv === active);
    const dot = document.createElement('span');
    const on = isOnline(c.conv);
    dot.className = on === null ? 'dot group' : on ? 'dot online' : 'dot';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = titleOf(c.conv);
    li.append(dot, name);
    if (typingNames(c.conv).length) {
      const t = document.createElement('span');
      t.className = 'typing-mini';
      t.textContent = 'typing…';
      li.append(t);
    }
    const unread = c.conv === active ? 0 : unreadOf(c);
    if (unread > 0) {
      const b = document.createElement('span');
      b.className = 'unread';
      b.textContent = String(unread);
      li.append(b);
    }
    li.addEventListener('click', () => select(c.conv));
    return li;
  }));
  $('me-dot').className = client.state === 'open' ? 'dot online' : 'dot';
}

function textOf(body) {
  if (body && typeof body === 'object' && typeof body.text === 'string') return body.text;
  return JSON.stringify(body);
}

// The tick of our own message `seq`: read or delivered once any other
// member's cursor covers it (receipts are cumulative).
function tickOf(c, seq) {
  let tick = 'sent';
  for (const [user, r] of c.receipts) {
    if (user === client.user) continue;
    if (r.read >= seq) return 'read';
    if (r.delivered >= seq) tick = 'delivered';
  }
  return tick;
}

const TICK_TEXT = {pending: '🕓', sent: '✓', delivered: '✓✓', read: '✓✓'};

function messageItem(m, c, pending) {
  const li = document.createElement('li');
  const mine = m.from === client.user;
  li.className = `msg${mine ? ' mine' : ''}${pending ? ' pending' : ''}`;
  if (!pending) li.dataset.seq = String(m.seq);
  li.dataset.cmid = m.cmid || '';
  li.dataset.from = m.from;
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = m.from;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = textOf(m.body);
  const time = document.createElement('time');
  const d = new Date(m.ts || Date.now());
  time.dateTime = d.toISOString();
  time.textContent = d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
  li.append(from, text, time);
  if (mine) {
    const tick = pending ? 'pending' : tickOf(c, m.seq);
    const t = document.createElement('span');
    t.className = `tick ${tick}`;
    t.dataset.tick = tick;
    t.title = tick;
    t.textContent = TICK_TEXT[tick];
    li.append(t);
  }
  return li;
}

function renderChat() {
  $('chat').dataset.conv = active;
  if (!active) return;
  const c = client.conversation(active);
  $('chat-title').textContent = titleOf(active);
  const on = isOnline(active);
  $('chat-dot').className = on === null ? 'dot group' : on ? 'dot online' : 'dot';
  const names = typingNames(active);
  $('typing').textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
  $('leave').hidden = !active.startsWith('g:');
  $('older').hidden = !(c.base > 1);
  const ol = $('messages');
  ol.classList.toggle('direct', active.startsWith('d:'));  // no sender names in 1:1
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
  const items = client.messages(active).map((m) => messageItem(m, c, false));
  for (const o of client.outbox()) {
    if (o.conv !== active) continue;
    items.push(messageItem({from: client.user, cmid: o.cmid, body: o.body, ts: o.ts}, c, true));
  }
  ol.replaceChildren(...items);
  if (atBottom) ol.scrollTop = ol.scrollHeight;
}

// ---- banner ----------------------------------------------------------------

function banner(text, action, onAction) {
  $('banner-text').textContent = text;
  const b = $('banner-action');
  b.hidden = !action;
  b.textContent = action || '';
  b.onclick = onAction || null;
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

// ---- wiring ----------------------------------------------------------------

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  signIn($('signin-id').value.trim());
});
$('signout').addEventListener('click', signOut);
$('new-chat').addEventListener('submit', (e) => {
  e.preventDefault();
  const u = $('new-chat-user').value.trim();
  if (!ID_RE.test(u)) {
    showSidebarError('bad_request', 'a user name is 1 to 64 letters, digits or _.@-');
    return;
  }
  $('new-chat-user').value = '';
  select(directConv(client.user, u));
  refreshPresence();
});
$('join-group').addEventListener('submit', async (e) => {
  e.preventDefault();
  const g = $('join-group-name').value.trim().replace(/^[#]|^g:/, '');
  if (!ID_RE.test(g)) {
    showSidebarError('bad_request', 'a group name is 1 to 64 letters, digits or _.@-');
    return;
  }
  try {
    await client.join(`g:${g}`);
    $('join-group-name').value = '';
    select(`g:${g}`);
  } catch (err) {
    const why = {forbidden: `#${g} is not an open group`, not_found: `there is no group #${g}`};
    showSidebarError(err.code, why[err.code] || err.message);
  }
});
$('leave').addEventListener('click', async () => {
  try {
    await client.leave(active);
    active = '';
    sessionStorage.removeItem('longlink.active');
    $('messages').replaceChildren();
    $('chat-title').textContent = 'No conversation open';
    queueRender();
  } catch (err) {
    showSidebarError(err.code, err.message);
  }
});
$('older').addEventListener('click', () => {
  client.loadOlder(active, 50).then(queueRender, (err) => showSidebarError(err.code, err.message));
});
$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text.trim()) return;
  $('text').value = '';
  sendText(text);
});
$('text').addEventListener('input', () => {
  if ($('text').value) sendTyping();
});
document.addEventListener('visibilitychange', queueRender);
setInterval(() => { if (client && typing.size) queueRender(); }, 1000);

const saved = sessionStorage.getItem('longlink.signin');
if (saved) {
  $('signin-id').value = saved;
  signIn(saved);
}
