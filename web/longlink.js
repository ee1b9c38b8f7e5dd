/*
 * longlink.js: a small client for the longlink wire protocol, version 1
 * (PROTOCOL.md). Plain modern JavaScript, no dependencies: an ES module for
 * browsers (and any runtime with WebSocket and EventTarget). The web client
 * (app.js) is built on it; it is meant to become the JS SDK.
 *
 * What it does for you
 *   - connects to /ws, says hello, and keeps reconnecting after a lost
 *     connection with exponential backoff and full jitter;
 *   - after every welcome: resends unsent messages with their original cmid
 *     (the server deduplicates), runs `sync`, and pulls every conversation
 *     page by page from the last seq it holds, so nothing is missed;
 *   - merges pushes, pages and acks by seq: each stored message is emitted
 *     once, however many times it arrives;
 *   - detects gaps in pushed seqs and pulls them; acknowledges delivery with
 *     cumulative `recv`; sends `read` when asked;
 *   - sends a `ping` after heartbeat_ms of silence and reconnects when the
 *     server stays silent, so a dead connection is noticed.
 *
 * API
 *   const c = new LonglinkClient({url, user, token, device, ...})
 *     url        WebSocket URL of /ws (default: this page's origin + "/ws")
 *     user       user id, under `--auth none`;  or
 *     token      a JWT, under `--auth jwt`
 *     device     device id (default "web")
 *     storage    a Storage (e.g. localStorage) that keeps the outbox across
 *                page loads; default: none (memory only)
 *     pageSize   pull page size (default 100)
 *     backoffMs  [first, max] reconnect delay bounds (default [500, 15000])
 *     ackTimeoutMs  resend an unacked send after this (default 10000)
 *   c.connect()                  start (and keep) the connection
 *   c.close()                    stop for good
 *   c.user, c.device, c.state    'idle'|'connecting'|'open'|'waiting'|'closed'
 *   c.send(to, body, {ephemeral}) -> Promise<ack>; `to` is "u:<user>",
 *                                "g:<group>" or a conversation id. Stored
 *                                sends are queued while offline and retried
 *                                with the same cmid until acked; the promise
 *                                resolves with the ack (rejects only on a
 *                                definite error such as forbidden).
 *   c.outbox()                   unacked stored sends [{cmid, to, conv, body, ts}]
 *   c.markRead(conv, seq?)       move this device's read cursor (default: all held)
 *   c.join(conv), c.leave(conv)  -> Promise<ok>
 *   c.presence(users)            -> Promise<{user: {online, devices|last_seen}}>
 *   c.watch(users)               subscribe to presence changes (kept across reconnects)
 *   c.loadOlder(conv, n?)        -> Promise<bool more>: history before the oldest held
 *   c.conversation(conv)         {conv, last, recv, read, held, msgs: Map seq->msg,
 *                                 receipts: Map user->{delivered, read}}
 *   c.conversations()            array of those
 *   c.messages(conv)             held messages, ascending seq
 *   c.request(frame)             -> Promise<reply>: any frame with an id
 *   Helpers: directConv(a, b), peerOf(conv, me), targetOf(conv, me), newCmid()
 *
 * Events (c.addEventListener(type, e => e.detail)):
 *   state     {state, attempt, delayMs}  connection state changes
 *   welcome   the welcome frame
 *   message   {conv, msg, live}  a stored message, once per seq; live: pushed now
 *   ephemeral the msg frame of an ephemeral send (typing indicators)
 *   ack       {cmid, conv, seq}  a stored send was acked
 *   receipt   the receipt frame ({conv, seq, user, kind})
 *   presence  {user, online, ts}
 *   conv      {conv}  a conversation's counters changed (last, read, held, new)
 *   synced    {}  after each reconnect's sync and pulls completed
 *   error     {code, msg, frame}
 *   replaced  the same user and device connected elsewhere (close 4009);
 *             the client stops; call connect() to take over again
 */

const DEFAULT_BACKOFF = [500, 15000];
const CLOSE_UNAUTHORIZED = 4001;
const CLOSE_REPLACED = 4009;

/** The direct conversation of users a and b: ids in byte order. */
export function directConv(a, b) {
  return byteLess(b, a) ? `d:${b}:${a}` : `d:${a}:${b}`;
}

/** The other user of a direct conversation (yourself for d:me:me); null for a group. */
export function peerOf(conv, me) {
  if (!conv.startsWith('d:')) return null;
  const [a, b] = conv.slice(2).split(':');
  return a === me ? b : a;
}

/** The `to` of a send into conversation `conv`. */
export function targetOf(conv, me) {
  return conv.startsWith('d:') ? `u:${peerOf(conv, me)}` : conv;
}

/** A fresh client message id: 1..64 bytes of [A-Za-z0-9_.@-]. */
export function newCmid() {
  const rnd = new Uint8Array(9);
  crypto.getRandomValues(rnd);
  const r = Array.from(rnd, (x) => x.toString(16).padStart(2, '0')).join('');
  return `c${Date.now().toString(36)}-${r}`;
}

// Ids are ASCII ([A-Za-z0-9_.@-]), so code unit order is byte order.
function byteLess(a, b) {
  return a < b;
}

export class LonglinkClient extends EventTarget {
  constructor(opts = {}) {
    super();
    if (!opts.user && !opts.token) throw new Error('longlink: user or token required');
    this.opts = opts;
    this.url = opts.url || defaultUrl();
    this.user = opts.user || null;  // from welcome when signed in by token
    this.device = opts.device || 'web';
    this.pageSize = opts.pageSize || 100;
    this.backoff = opts.backoffMs || DEFAULT_BACKOFF;
    this.ackTimeoutMs = opts.ackTimeoutMs || 10000;
    this.storage = opts.storage || null;
    this.state = 'idle';
    this.welcome = null;
    this._ws = null;
    this._nextId = 1;
    this._pending = new Map();  // id -> {resolve, reject, frame}
    this._convs = new Map();    // conv -> conversation state
    this._outbox = this._loadOutbox();  // cmid -> {cmid, to, conv, body, ts}
    this._sending = new Map();  // cmid -> {resolve, reject} of send() promises
    this._watched = new Set();
    this._attempt = 0;
    this._timer = null;
    this._hbTimer = null;
    this._lastRx = 0;
    this._stopped = true;
    this._recvTimer = null;
    this._recvDue = new Set();  // convs whose recv cursor should be sent
  }

  // ---- connection ---------------------------------------------------------

  connect() {
    this._stopped = false;
    if (this._ws || this._timer) return;
    this._open();
  }

  close() {
    this._stopped = true;
    clearTimeout(this._timer);
    this._timer = null;
    if (this._ws) this._ws.close(1000, 'bye');
    this._setState('closed');
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit('state', {state, ...extra});
  }

  _open() {
    this._timer = null;
    this._setState('connecting', {attempt: this._attempt});
    let ws;
    try {
      ws = new WebSocket(this.url, 'longlink.v1');
    } catch (e) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      const hello = {t: 'hello', v: 1, device: this.device};
      if (this.opts.token) hello.token = this.opts.token;
      else hello.user = this.user;
      this._lastRx = Date.now();
      this._request(hello).then((w) => this._onWelcome(w), (err) => {
        if (err.code !== 'disconnected') this._emit('error', {code: err.code, msg: err.message, frame: err.frame});
      });
    };
    ws.onmessage = (ev) => this._onFrame(ev.data);
    ws.onclose = (ev) => this._onClose(ws, ev);
    ws.onerror = () => {};  // onclose follows
  }

  _onClose(ws, ev) {
    if (ws !== this._ws) return;
    this._ws = null;
    this.welcome = null;
    clearInterval(this._hbTimer);
    this._hbTimer = null;
    // Requests of that connection are answered by no one now: sends stay in
    // the outbox and go again after the next welcome.
    for (const [, p] of this._pending) p.reject(Object.assign(new Error('disconnected'), {code: 'disconnected'}));
    this._pending.clear();
    if (ev.code === CLOSE_REPLACED) {
      this._stopped = true;
      this._setState('closed', {code: ev.code, reason: 'replaced'});
      this._emit('replaced', {});
      return;
    }
    if (ev.code === CLOSE_UNAUTHORIZED) {
      this._stopped = true;
      this._setState('closed', {code: ev.code, reason: 'unauthorized'});
      return;
    }
    if (this._stopped) {
      this._setState('closed', {code: ev.code});
      return;
    }
    this._scheduleReconnect();
  }

  // Exponential backoff with full jitter: a random delay in [first, cap],
  // where cap doubles per failed attempt up to max (AWS "full jitter", with
  // a floor so a flapping server is not hammered).
  _scheduleReconnect() {
    const [first, max] = this.backoff;
    const cap = Math.min(max, first * 2 ** this._attempt);
    const delayMs = Math.round(first + Math.random() * (cap - first));
    this._attempt++;
    this._setState('waiting', {attempt: this._attempt, delayMs});
    this._timer = setTimeout(() => this._open(), delayMs);
  }

  async _onWelcome(w) {
    this.welcome = w;
    this.user = w.user;
    this._attempt = 0;
    this._setState('open');
    this._emit('welcome', w);
    this._startHeartbeat(w.heartbeat_ms || 25000);
    const ws = this._ws;
    try {
      // Order matters: the server handles a connection's frames in order, so
      // the sync below already sees the resent messages.
      for (const item of this._outbox.values()) this._transmit(item);
      if (this._watched.size) this._sendFrame({t: 'watch', users: [...this._watched]});
      await this.refresh();
      if (ws === this._ws) this._emit('synced', {});
    } catch (e) {
      // A lost connection mid-sync: the next welcome starts over.
    }
  }

  _startHeartbeat(hbMs) {
    clearInterval(this._hbTimer);
    const tick = Math.max(1000, Math.floor(hbMs / 2));
    this._hbTimer = setInterval(() => {
      const quiet = Date.now() - this._lastRx;
      if (!this._ws) return;
      if (quiet >= 2 * hbMs) {
        // Nothing from the server for two heartbeats: the connection is dead
        // even if TCP has not noticed.
        this._ws.close(4000, 'heartbeat timeout');
        this._onClose(this._ws, {code: 4000});
      } else if (quiet >= tick) {
        this._request({t: 'ping'}).catch(() => {});
      }
    }, tick);
  }

  // ---- frames -------------------------------------------------------------

  _sendFrame(frame) {
    if (!this._ws || this._ws.readyState !== 1) return false;
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a frame with a fresh id; resolves with the reply, rejects with an error frame. */
  request(frame) {
    if (!this.welcome) return Promise.reject(Object.assign(new Error('not connected'), {code: 'disconnected'}));
    return this._request(frame);
  }

  _request(frame) {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, {resolve, reject, frame});
      if (!this._sendFrame({...frame, id})) {
        this._pending.delete(id);
        reject(Object.assign(new Error('not connected'), {code: 'disconnected'}));
      }
    });
  }

  _onFrame(text) {
    this._lastRx = Date.now();
    let f;
    try {
      f = JSON.parse(text);
    } catch (e) {
      return;
    }
    if (f.id !== undefined && this._pending.has(f.id)) {
      const p = this._pending.get(f.id);
      this._pending.delete(f.id);
      if (f.t === 'error') p.reject(Object.assign(new Error(f.msg || f.code), {code: f.code, frame: f}));
      else p.resolve(f);
      return;
    }
    switch (f.t) {
      case 'msg':
        if (f.ephemeral) this._emit('ephemeral', f);
        else this._onPush(f);
        break;
      case 'receipt':
        this._onReceipt(f);
        break;
      case 'presence':
        if (f.user) this._emit('presence', {user: f.user, online: f.online, ts: f.ts});
        break;
      case 'error':
        this._emit('error', {code: f.code, msg: f.msg, frame: f});
        break;
      default:
        break;
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, {detail}));
  }

  // ---- conversations and merging -----------------------------------------

  /** The state of `conv`, created empty on first use. */
  conversation(conv) {
    let c = this._convs.get(conv);
    if (!c) {
      // held: every seq in (base, held] is in msgs or was before base;
      // base: the seq below which history was not loaded (0 once all is).
      c = {conv, last: 0, recv: 0, read: 0, held: 0, base: 0, msgs: new Map(),
           receipts: new Map(), pulling: null, first: 1};
      this._convs.set(conv, c);
      this._emit('conv', {conv, created: true});
    }
    return c;
  }

  conversations() {
    return [...this._convs.values()];
  }

  messages(conv) {
    const c = this._convs.get(conv);
    if (!c) return [];
    return [...c.msgs.values()].sort((a, b) => a.seq - b.seq);
  }

  outbox() {
    return [...this._outbox.values()];
  }

  /** Stores a message once; returns true if it was new. */
  _store(c, msg, live) {
    if (!Number.isInteger(msg.seq) || msg.seq <= 0) return false;
    if (msg.seq > c.last) c.last = msg.seq;
    if (c.msgs.has(msg.seq)) return false;
    if (msg.seq <= c.held && msg.seq < c.base) return false;  // below what we load
    c.msgs.set(msg.seq, msg);
    // A message of ours that was waiting in the outbox is now stored.
    if (msg.from === this.user && msg.cmid && this._outbox.has(msg.cmid)) {
      this._settle(msg.cmid, {t: 'ack', conv: msg.conv, seq: msg.seq, ts: msg.ts, cmid: msg.cmid});
    }
    this._emit('message', {conv: c.conv, msg, live});
    return true;
  }

  // Moves `held` over every contiguous seq we have.
  _advance(c) {
    while (c.msgs.has(c.held + 1)) c.held++;
  }

  _onPush(f) {
    const c = this.conversation(f.conv);
    const msg = {...f};
    delete msg.t;
    this._store(c, msg, true);
    this._advance(c);
    if (f.seq > c.held) {
      this._pullGap(c).catch(() => {});  // a push went missing: pull it
    } else {
      this._dueRecv(c);
    }
    this._emit('conv', {conv: c.conv});
  }

  // Cumulative delivery acks, coalesced: one recv per conversation per turn.
  _dueRecv(c) {
    if (c.held <= c.recv) return;
    this._recvDue.add(c.conv);
    if (this._recvTimer) return;
    this._recvTimer = setTimeout(() => {
      this._recvTimer = null;
      for (const conv of this._recvDue) {
        const cc = this._convs.get(conv);
        if (cc.held > cc.recv && this._sendFrame({t: 'recv', conv, seq: cc.held})) cc.recv = cc.held;
      }
      this._recvDue.clear();
    }, 0);
  }

  _onReceipt(f) {
    const c = this.conversation(f.conv);
    const r = c.receipts.get(f.user) || {delivered: 0, read: 0};
    if (f.kind === 'read') {
      r.read = Math.max(r.read, f.seq);
      r.delivered = Math.max(r.delivered, f.seq);
    } else {
      r.delivered = Math.max(r.delivered, f.seq);
    }
    c.receipts.set(f.user, r);
    this._emit('receipt', f);
  }

  /**
   * Runs `sync` (all conversations) and pulls each from the last seq held.
   * Called after every welcome; call it yourself after a join.
   */
  async refresh() {
    const reply = await this.request({t: 'sync', all: true});
    const pulls = [];
    for (const s of reply.convs || []) {
      const c = this.conversation(s.conv);
      if (c.last < s.last) c.last = s.last;
      if (s.last < c.held) {
        // The server has fewer messages than we hold: its log lost some.
        this._emit('error', {code: 'history_regressed',
          msg: `${s.conv}: server has ${s.last}, client holds ${c.held}`});
      }
      c.recv = Math.max(c.recv, s.recv);
      c.read = Math.max(c.read, s.read);
      // A fresh client starts from this device's recv cursor: older history
      // is loaded on demand (loadOlder), newer is pulled now.
      if (c.held === 0 && c.msgs.size === 0 && c.base === 0) {
        c.held = s.recv;
        c.base = s.recv + 1;
      }
      if (c.last > c.held) pulls.push(this._pullGap(c));
      this._emit('conv', {conv: c.conv});
    }
    await Promise.all(pulls);
  }

  // Pulls (held, last] page by page. One pull loop per conversation at a
  // time; it goes on while pages bring messages and either the server says
  // there are more or a push meanwhile showed a higher seq.
  _pullGap(c) {
    if (c.pulling) return c.pulling;
    c.pulling = (async () => {
      try {
        for (;;) {
          const before = c.held;
          const page = await this.request({t: 'pull', conv: c.conv, after: c.held, limit: this.pageSize});
          if (page.first && page.first - 1 > c.held) {
            c.held = page.first - 1;  // dropped by retention: gone for good
          }
          const msgs = page.msgs || [];
          for (const m of msgs) this._store(c, {...m, conv: c.conv}, false);
          this._advance(c);
          // pull's `after` moved the server's recv cursor to the old held.
          this._dueRecv(c);
          this._emit('conv', {conv: c.conv});
          if (!msgs.length || c.held === before) break;
          if (!page.more && c.held >= c.last) break;
        }
      } finally {
        c.pulling = null;
      }
    })();
    return c.pulling;
  }

  /** Loads up to `n` messages older than the oldest held. Resolves with `more`. */
  async loadOlder(conv, n = this.pageSize) {
    const c = this.conversation(conv);
    if (c.base <= 1) return false;
    const page = await this.request({t: 'pull', conv, before: c.base, limit: n});
    for (const m of page.msgs || []) {
      c.base = Math.min(c.base, m.seq);
      c.msgs.set(m.seq, {...m, conv});
    }
    if (!page.more) c.base = 1;
    else if ((page.msgs || []).length) c.base = page.msgs[0].seq;
    if (page.first) c.base = Math.max(1, Math.min(c.base, page.first));
    this._emit('conv', {conv, history: true});
    return c.base > 1;
  }

  // ---- sending ------------------------------------------------------------

  /**
   * Sends `body` to `to`. A stored send is kept in the outbox until acked,
   * resent with the same cmid after each reconnect and after ackTimeoutMs.
   */
  send(to, body, {ephemeral = false, cmid = newCmid()} = {}) {
    if (to.startsWith('d:')) to = targetOf(to, this.user);
    if (ephemeral) {
      return this.request({t: 'send', to, cmid, body, ephemeral: true});
    }
    // Before the first welcome of a token sign-in the user is not known yet;
    // the ack names the conversation then.
    const conv = to.startsWith('u:') && this.user ? directConv(this.user, to.slice(2)) : to;
    const item = {cmid, to, conv, body, ts: Date.now()};
    this._outbox.set(cmid, item);
    this._saveOutbox();
    const done = new Promise((resolve, reject) => this._sending.set(cmid, {resolve, reject}));
    this._emit('conv', {conv, outbox: true});
    this._transmit(item);
    return done;
  }

  _transmit(item) {
    if (!this.welcome) return;
    clearTimeout(item.timer);
    item.timer = setTimeout(() => {
      if (this._outbox.has(item.cmid)) this._transmit(item);  // same cmid: dedup'd
    }, this.ackTimeoutMs);
    const frame = {t: 'send', to: item.to, cmid: item.cmid, body: item.body};
    this._request(frame).then(
      (ack) => this._onAck(item, ack),
      (err) => {
        if (err.code === 'disconnected') return;  // resent after the next welcome
        if (err.code === 'rate_limited' || err.code === 'internal') return;  // timer resends
        this._fail(item.cmid, err);
      });
  }

  _onAck(item, ack) {
    const c = this.conversation(ack.conv);
    if (ack.seq > c.last) c.last = ack.seq;
    // Our own message is stored at ack.seq; it also arrives by pull, which
    // _store ignores once held. Keep it now so it shows at once.
    const msg = {conv: ack.conv, seq: ack.seq, from: this.user, device: this.device,
                 ts: ack.ts, cmid: item.cmid, body: item.body};
    this._settle(item.cmid, ack);
    this._store(c, msg, true);
    this._advance(c);
    if (ack.seq > c.held) this._pullGap(c).catch(() => {});  // others wrote in between
    else this._dueRecv(c);
    this._emit('conv', {conv: c.conv});
  }

  _settle(cmid, ack) {
    const item = this._outbox.get(cmid);
    if (!item) return;
    clearTimeout(item.timer);
    this._outbox.delete(cmid);
    this._saveOutbox();
    const s = this._sending.get(cmid);
    this._sending.delete(cmid);
    if (s) s.resolve(ack);
    this._emit('ack', {cmid, conv: ack.conv, seq: ack.seq});
  }

  _fail(cmid, err) {
    const item = this._outbox.get(cmid);
    if (item) clearTimeout(item.timer);
    this._outbox.delete(cmid);
    this._saveOutbox();
    const s = this._sending.get(cmid);
    this._sending.delete(cmid);
    if (s) s.reject(err);
    this._emit('error', {code: err.code, msg: err.message, frame: err.frame});
    if (item) this._emit('conv', {conv: item.conv, outbox: true});
  }

  _outboxKey() {
    return `longlink.outbox.${this.opts.user || 'token'}.${this.device}`;
  }

  _loadOutbox() {
    const m = new Map();
    if (!this.storage) return m;
    try {
      for (const it of JSON.parse(this.storage.getItem(this._outboxKey()) || '[]')) m.set(it.cmid, it);
    } catch (e) {
      // A damaged entry is dropped, not fatal.
    }
    return m;
  }

  _saveOutbox() {
    if (!this.storage) return;
    const items = [...this._outbox.values()].map(({cmid, to, conv, body, ts}) => ({cmid, to, conv, body, ts}));
    try {
      this.storage.setItem(this._outboxKey(), JSON.stringify(items));
    } catch (e) {
      // Storage full or disabled: the outbox still lives in memory.
    }
  }

  // ---- cursors, groups, presence -----------------------------------------

  /** Marks `conv` read up to `seq` (default: everything held). */
  markRead(conv, seq) {
    const c = this.conversation(conv);
    const upTo = Math.min(seq ?? c.held, c.held);
    if (upTo <= c.read) return;
    if (this._sendFrame({t: 'read', conv, seq: upTo})) {
      c.read = upTo;
      if (c.recv < upTo) c.recv = upTo;  // read implies delivered
      this._emit('conv', {conv});
    }
  }

  async join(conv) {
    const r = await this.request({t: 'join', conv});
    await this.refresh();
    this.conversation(conv);
    return r;
  }

  async leave(conv) {
    const r = await this.request({t: 'leave', conv});
    this._convs.delete(conv);
    this._emit('conv', {conv, removed: true});
    return r;
  }

  async presence(users) {
    const r = await this.request({t: 'presence', users});
    return r.users;
  }

  watch(users) {
    const fresh = users.filter((u) => !this._watched.has(u));
    for (const u of fresh) this._watched.add(u);
    if (fresh.length) this._sendFrame({t: 'watch', users: fresh});
  }
}

function defaultUrl() {
  const l = globalThis.location;
  if (!l) throw new Error('longlink: url required outside a browser');
  return `${l.protocol === 'https:' ? 'wss:' : 'ws:'}//${l.host}/ws`;
}
