// browser:chat: two people chat through a real longlink in Debian's
// chromium, driven by playwright-core, and the server is killed (SIGKILL)
// and restarted on the same port and data directory mid-conversation.
// Both pages must end with every message exactly once, in order, with read
// ticks on every message they sent.
//
//   node chat.test.mjs --binary build/longlink [--storage disk|memory] [--skip-restart]
//                      [--screenshots DIR]
//
// Each step prints one line; a failure prints both pages' transcripts, the
// client's warnings and the server's stderr, and exits 1. The page is driven
// through its UI only (typing, clicking) and checked through its DOM.
import {execFileSync, spawn} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import net from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {chromium} from 'playwright-core';

const args = parseArgs(process.argv.slice(2));
const BINARY = args.binary || process.env.LONGLINK_BINARY;
const STORAGE = args.storage || 'disk';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const API_KEY = 'browser-test-key-4e1f';
const STEP_TIMEOUT_MS = 15000;
const started = Date.now();

if (!BINARY) {
  console.error('usage: node chat.test.mjs --binary PATH [--storage disk|memory] [--skip-restart]');
  process.exit(2);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--skip-restart') out.skipRestart = true;
    else if (a.startsWith('--')) out[a.slice(2)] = argv[++i];
  }
  return out;
}

function log(msg) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
}

// ---- the server ------------------------------------------------------------

class LonglinkServer {
  // `auth`: extra arguments after --auth none (or, e.g., ['--auth', 'jwt', ...]).
  constructor(dataDir, keyFile, auth = ['--auth', 'none']) {
    this.dataDir = dataDir;
    this.keyFile = keyFile;
    this.auth = auth;
    this.port = 0;
    this.proc = null;
    this.stderr = '';
  }

  // Starts the binary on `port` (0: any) and resolves once it logs
  // "listening on 127.0.0.1:<port>".
  start(port = 0) {
    const argv = [...this.auth, '--listen', `127.0.0.1:${port}`, '--data-dir', this.dataDir,
                  '--storage', STORAGE, '--threads', '2', '--api-key-file', this.keyFile];
    this.stderr += `--- ${BINARY} ${argv.join(' ')}\n`;
    const proc = spawn(BINARY, argv, {stdio: ['ignore', 'ignore', 'pipe']});
    this.proc = proc;
    let own = '';  // this process's stderr
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not log "listening on" in 10 s')), 10000);
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (chunk) => {
        this.stderr += chunk;
        own += chunk;
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(own);
        if (m) {
          this.port = Number(m[1]);
          clearTimeout(timer);
          resolve(this.port);
        }
      });
      proc.on('exit', (code, sig) => {
        this.stderr += `--- exited ${code ?? ''}${sig ?? ''}\n`;
        clearTimeout(timer);
        reject(new Error(`server exited (${code ?? sig}) before listening`));
      });
    });
  }

  // SIGKILL, as a crash would; resolves once the process is gone.
  kill() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      proc.once('exit', resolve);
      proc.kill('SIGKILL');
    });
  }

  tail(n = 3000) {
    return this.stderr.slice(-n);
  }
}

// A TCP proxy in front of the server for one page, so the test can cut that
// page's network (every connection dropped, new ones refused) while the
// server keeps running, and restore it; or make it deaf (what the server
// sends is dropped), to lose an ack on the way.
class Link {
  constructor(server) {
    this.server = server;
    this.up = true;
    this.deaf = false;
    this.socks = new Set();
  }

  listen() {
    this.listener = net.createServer((down) => {
      if (!this.up) {
        down.destroy();
        return;
      }
      const up = net.connect(this.server.port, '127.0.0.1');
      for (const [a, b] of [[down, up], [up, down]]) {
        this.socks.add(a);
        a.on('error', () => {});
        a.on('close', () => {
          this.socks.delete(a);
          b.destroy();
        });
        a.on('data', (chunk) => {
          if (!(this.deaf && a === up)) b.write(chunk);
        });
      }
    });
    return new Promise((resolve) => this.listener.listen(0, '127.0.0.1', () => resolve(this.listener.address().port)));
  }

  cut() {
    this.up = false;
    this.deaf = false;
    for (const s of this.socks) s.destroy();
  }

  restore() {
    this.up = true;
  }

  close() {
    this.cut();
    if (this.listener) this.listener.close();
  }
}

// ---- helpers ---------------------------------------------------------------

async function until(what, fn, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last === true) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
                      (last && last !== false ? `\n  last seen: ${JSON.stringify(last)}` : ''));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The open conversation as the page shows it.
function transcript(page) {
  return page.evaluate(() => [...document.querySelectorAll('#messages li.msg')].map((li) => ({
    seq: li.dataset.seq ? Number(li.dataset.seq) : null,
    from: li.dataset.from,
    text: li.querySelector('.text').textContent,
    tick: li.querySelector('.tick') ? li.querySelector('.tick').dataset.tick : null,
  })));
}

const texts = (t) => t.map((m) => m.text);

async function signIn(page, base, user) {
  await page.goto(base);
  await page.fill('#signin-id', user);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#app:not([hidden])', {timeout: STEP_TIMEOUT_MS});
  await until(`${user} online`, async () => (await connState(page)) === 'open');
}

const connState = (page) => page.$eval('#conn', (e) => e.dataset.state);

async function send(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

async function open(page, conv) {
  await page.click(`#convs li[data-conv="${conv}"]`);
  await until(`${conv} open`, async () =>
    (await page.$eval('#chat', (e) => e.dataset.conv)) === conv);
}

// Waits until `page` shows `expected` (texts, in order) in the open conversation.
async function shows(page, who, expected) {
  await until(`${who} to show ${JSON.stringify(expected)}`, async () => {
    const t = await transcript(page);
    return JSON.stringify(texts(t)) === JSON.stringify(expected) || texts(t);
  });
}

// ---- the scenario ----------------------------------------------------------

const dataDir = mkdtempSync(join(tmpdir(), 'longlink-browser-'));
const keyFile = join(dataDir, 'api.key');
const data = join(dataDir, 'data');
writeFileSync(keyFile, API_KEY);
const server = new LonglinkServer(data, keyFile);
const servers = [server];
// No server outlives the test, however it ends (a ctest timeout sends SIGTERM).
process.on('exit', () => {
  for (const s of servers) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
  rmSync(dataDir, {recursive: true, force: true});
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => process.exit(1));
const warnings = [];
let browser;
const links = [];
let alice;
let bob;

async function main() {
  const port = await server.start(0);
  const base = `http://127.0.0.1:${port}/`;
  log(`longlink (--storage ${STORAGE}) listening on ${port}`);
  const linkA = new Link(server);
  const linkB = new Link(server);
  links.push(linkA, linkB);
  const baseA = `http://127.0.0.1:${await linkA.listen()}/`;
  const baseB = `http://127.0.0.1:${await linkB.listen()}/`;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  log('chromium launched');
  alice = await newPage('alice');
  bob = await newPage('bob');
  await signIn(alice, baseA, 'alice');
  await signIn(bob, baseB, 'bob');
  log('alice and bob signed in');

  // alice opens a chat with bob and writes first.
  const conv = 'd:alice:bob';
  await alice.fill('#new-chat-user', 'bob');
  await alice.press('#new-chat-user', 'Enter');
  await until('alice to open d:alice:bob', async () =>
    (await alice.$eval('#chat', (e) => e.dataset.conv)) === conv);
  const sent = [];  // every message, in the order the test knows they were stored
  await send(alice, 'hi bob');
  sent.push('hi bob');
  await shows(alice, 'alice', sent);

  // bob sees the new conversation with one unread message, alice online.
  await until('bob to list d:alice:bob with 1 unread', async () =>
    (await bob.$$eval(`#convs li[data-conv="${conv}"] .unread`, (e) => e.map((x) => x.textContent)))[0] === '1');
  await until("alice's presence dot on bob's list", async () =>
    (await bob.$$(`#convs li[data-conv="${conv}"] .dot.online`)).length === 1);
  log('bob: d:alice:bob listed, 1 unread, alice online');
  await open(bob, conv);
  await shows(bob, 'bob', sent);
  await until("alice's first message read", async () =>
    (await transcript(alice))[0]?.tick === 'read' || await transcript(alice));
  await until('the unread badge to clear', async () =>
    (await bob.$$(`#convs li[data-conv="${conv}"] .unread`)).length === 0);
  log('bob opened it; alice sees the read tick');

  // Typing indicator: bob types; alice sees it, then bob sends.
  await bob.fill('#text', 'hello al');
  await bob.type('#text', 'i');
  await until('alice to see bob typing', async () =>
    (await alice.$eval('#typing', (e) => e.textContent)).includes('bob is typing'));
  log('alice sees "bob is typing…"');
  await bob.press('#text', 'Enter');
  sent.push('hello ali');
  await shows(alice, 'alice', sent);
  await until('typing indicator cleared by the message', async () =>
    (await alice.$eval('#typing', (e) => e.textContent)) === '');

  // A few turns, each waited for on the other side, so the order is known.
  for (let i = 1; i <= 3; i++) {
    await send(alice, `a${i}`);
    sent.push(`a${i}`);
    await shows(bob, 'bob', sent);
    await send(bob, `b${i}`);
    sent.push(`b${i}`);
    await shows(alice, 'alice', sent);
  }
  await allRead(alice, 'alice');
  await allRead(bob, 'bob');
  log(`${sent.length} messages exchanged, every tick read on both sides`);

  // A group: created open through the HTTP API, joined by name in both pages.
  const res = await fetch(`${base}api/groups`, {
    method: 'POST',
    headers: {'Authorization': `Bearer ${API_KEY}`, 'Content-Type': 'application/json'},
    body: JSON.stringify({group: 'lobby', members: [], open: true}),
  });
  if (res.status !== 200) throw new Error(`POST /api/groups: ${res.status} ${await res.text()}`);
  for (const page of [alice, bob]) {
    await page.fill('#join-group-name', 'lobby');
    await page.press('#join-group-name', 'Enter');
    await until('g:lobby open', async () =>
      (await page.$eval('#chat', (e) => e.dataset.conv)) === 'g:lobby');
  }
  await send(alice, 'lobby: hello all');
  await shows(bob, 'bob', ['lobby: hello all']);
  await send(bob, 'lobby: hi');
  await shows(alice, 'alice', ['lobby: hello all', 'lobby: hi']);
  const lobby = ['lobby: hello all', 'lobby: hi'];
  log('both joined #lobby and chatted there');
  await open(alice, conv);
  await open(bob, conv);
  await shows(alice, 'alice', sent);

  // alice's network drops while the server runs: bob writes meanwhile, alice
  // writes into her outbox. Back online, she resends and syncs.
  linkA.cut();
  await until('alice to notice the cut', async () => (await connState(alice)) !== 'open');
  const aliceDot = async () => (await bob.$$(`#convs li[data-conv="${conv}"] .dot.online`)).length === 1;
  await until("bob's presence dot for alice to go grey (watch)", async () => !(await aliceDot()));
  for (const t of ['while alice is away 1', 'while alice is away 2']) {
    await send(bob, t);
    sent.push(t);
  }
  await shows(bob, 'bob', sent);
  await until("bob's messages stored", async () => (await bob.$$('#messages li.msg.pending')).length === 0);
  await send(alice, 'alice, offline');
  await until('alice to show it pending', async () => (await alice.$$('#messages li.msg.pending')).length === 1);
  await new Promise((r) => setTimeout(r, 1000));
  linkA.restore();
  log('alice: network cut for 1 s; bob wrote 2, alice 1 pending');
  sent.push('alice, offline');
  await until('alice to reconnect', async () => (await connState(alice)) === 'open', 30000);
  await until("bob's presence dot for alice to turn green again", aliceDot);
  await shows(alice, 'alice', sent);
  await shows(bob, 'bob', sent);
  await allRead(alice, 'alice');
  await allRead(bob, 'bob');
  log('alice reconnected, resent, pulled what she missed; presence followed; every tick read');

  // bob's network drops and only alice writes: back online, bob has nothing
  // to resend and gets no push of those, so only his sync and pull bring them.
  linkB.cut();
  await until('bob to notice the cut', async () => (await connState(bob)) !== 'open');
  for (const t of ['while bob is away 1', 'while bob is away 2']) {
    await send(alice, t);
    sent.push(t);
  }
  await shows(alice, 'alice', sent);
  await until("alice's messages stored", async () => (await alice.$$('#messages li.msg.pending')).length === 0);
  linkB.restore();
  await until('bob to reconnect', async () => (await connState(bob)) === 'open', 30000);
  await shows(bob, 'bob', sent);
  await allRead(alice, 'alice');
  log('bob: network cut; alice wrote 2; bob synced and pulled them; read ticks for alice');

  // A lost ack: the server stores alice's message and bob gets it, but the
  // ack never reaches alice; her connection then drops. Her resend carries
  // the same cmid, so the server stores nothing new and answers dup.
  linkA.deaf = true;
  await send(alice, 'my ack gets lost');
  sent.push('my ack gets lost');
  await shows(bob, 'bob', sent);
  check((await alice.$$('#messages li.msg.pending')).length === 1, 'alice has no ack: still pending');
  linkA.cut();
  await until('alice to notice the cut', async () => (await connState(alice)) !== 'open');
  linkA.restore();
  await until('alice to reconnect', async () => (await connState(alice)) === 'open', 30000);
  await shows(alice, 'alice', sent);
  await until("alice's outbox to drain", async () => (await alice.$$('#messages li.msg.pending')).length === 0);
  await shows(bob, 'bob', sent);
  log('a lost ack: resent with the same cmid, stored once');

  // A reload starts from nothing: the history is pulled again, once.
  await bob.reload();
  await bob.waitForSelector('#app:not([hidden])', {timeout: STEP_TIMEOUT_MS});
  await until('bob back online', async () => (await connState(bob)) === 'open');
  await until('bob to reopen d:alice:bob', async () =>
    (await bob.$eval('#chat', (e) => e.dataset.conv)) === conv);
  await shows(bob, 'bob', sent);
  check((await transcript(bob)).every((m, i) => m.seq === i + 1), 'after a reload bob holds seqs 1..N');
  await until("alice's presence dot after bob's reload", aliceDot);

  if (args.skipRestart) {
    log('--skip-restart: done before the restart');
    return;
  }

  // The crash: SIGKILL mid-conversation. Both pages lose the connection.
  await server.kill();
  log('server killed (SIGKILL)');
  for (const [page, who] of [[alice, 'alice'], [bob, 'bob']]) {
    await until(`${who} to notice`, async () => (await connState(page)) !== 'open');
  }
  // Both write while it is down: the messages wait in the outbox.
  const offline = {alice: ['while down a1', 'while down a2'], bob: ['while down b1']};
  for (const t of offline.alice) await send(alice, t);
  for (const t of offline.bob) await send(bob, t);
  await until('pending ticks while down', async () =>
    (await alice.$$('#messages li.msg.pending')).length === 2 &&
    (await bob.$$('#messages li.msg.pending')).length === 1);
  log('offline: alice has 2 and bob 1 message pending');

  await server.start(server.port).catch(async (e) => {
    // The port can be briefly busy right after the kill; try once more.
    if (!/exited/.test(e.message)) throw e;
    await new Promise((r) => setTimeout(r, 500));
    return server.start(server.port);
  });
  log(`server restarted on ${server.port} with the same data dir`);
  for (const [page, who] of [[alice, 'alice'], [bob, 'bob']]) {
    await until(`${who} to reconnect`, async () => (await connState(page)) === 'open', 30000);
  }
  log('both reconnected (backoff with jitter)');
  for (const [page, who] of [[alice, 'alice'], [bob, 'bob']]) {
    await until(`${who}'s outbox to drain`, async () =>
      (await page.$$('#messages li.msg.pending')).length === 0);
  }

  // Every message exactly once: what was sent before the kill, then the
  // offline ones (alice's and bob's in any interleaving, each sender's in
  // order), then two more turns.
  const beforeKill = sent.length;
  const offlineAll = [...offline.alice, ...offline.bob];
  sent.push(...offlineAll);
  await until('both pages to hold every message once', async () => {
    const a = texts(await transcript(alice));
    const b = texts(await transcript(bob));
    return (a.length === sent.length && b.length === sent.length) || {alice: a, bob: b};
  });
  await send(alice, 'after restart a');
  await shows(bob, 'bob', await expectedTail(alice, 'after restart a'));
  await send(bob, 'after restart b');
  const final = await expectedTail(bob, 'after restart b');
  await shows(alice, 'alice', final);
  await allRead(alice, 'alice');
  await allRead(bob, 'bob');

  const ta = await transcript(alice);
  const tb = await transcript(bob);
  check(JSON.stringify(ta.map(({seq, text}) => [seq, text])) ===
        JSON.stringify(tb.map(({seq, text}) => [seq, text])), 'both pages show the same seq -> text');
  check(ta.every((m, i) => m.seq === i + 1), 'seqs are 1..N without gap or repeat');
  check(JSON.stringify(texts(ta).slice(0, beforeKill)) === JSON.stringify(sent.slice(0, beforeKill)),
        'what was sent before the kill is first, in order');
  const mid = texts(ta).slice(beforeKill, beforeKill + offlineAll.length);
  check(JSON.stringify([...mid].sort()) === JSON.stringify([...offlineAll].sort()),
        'the offline messages follow, each exactly once');
  for (const [who, list] of Object.entries(offline)) {
    check(JSON.stringify(mid.filter((t) => list.includes(t))) === JSON.stringify(list),
          `${who}'s offline messages keep their order`);
  }
  check(JSON.stringify(texts(ta).slice(-2)) === JSON.stringify(['after restart a', 'after restart b']),
        'the two turns after the restart come last');
  check(new Set(texts(ta)).size === ta.length, 'no message shown twice');
  log(`d:alice:bob: ${ta.length} messages, identical on both pages, all read`);

  // The group's history survived too, once each.
  await open(alice, 'g:lobby');
  await shows(alice, 'alice', lobby);
  log('#lobby intact after the restart');

  await tokenSignIn();
}

// Under --auth jwt (with --web) the page takes a token; a plain name gets a
// clear refusal rather than a silent failure.
async function tokenSignIn() {
  const secretFile = join(dataDir, 'jwt.secret');
  writeFileSync(secretFile, 'browser-test-secret-9c0b7e');
  const jwtServer = new LonglinkServer(join(dataDir, 'data-jwt'), keyFile,
                                       ['--auth', 'jwt', '--jwt-secret-file', secretFile, '--web']);
  servers.push(jwtServer);
  const port = await jwtServer.start(0);
  const page = await newPage('carol');
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.fill('#signin-id', 'carol');
  await page.click('#signin-form button[type=submit]');
  await until('the page to ask for a token', async () =>
    (await page.$eval('#signin-error', (e) => e.textContent)).includes('wants a token'));
  const token = execFileSync(BINARY, ['token', '--user', 'carol', '--jwt-secret-file', secretFile],
                             {encoding: 'utf8'}).trim();
  await page.fill('#signin-id', token);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#app:not([hidden])', {timeout: STEP_TIMEOUT_MS});
  check((await page.$eval('#me', (e) => e.textContent)) === 'carol', '--auth jwt: a token signs carol in');
  await page.context().close();
}

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  log(`ok: ${what}`);
}

// What the page must show once `text` (sent last) has arrived: its current
// transcript if it ends with `text`.
async function expectedTail(page, text) {
  let t = [];
  await until(`"${text}" stored`, async () => {
    t = await transcript(page);
    return (t.length && t[t.length - 1].text === text && t[t.length - 1].seq !== null) || texts(t);
  });
  return texts(t);
}

// Every message the page's user sent carries a read tick.
async function allRead(page, who) {
  await until(`${who}'s messages all read`, async () => {
    const mine = (await transcript(page)).filter((m) => m.from === who);
    return (mine.length > 0 && mine.every((m) => m.tick === 'read')) || mine.map((m) => `${m.text}:${m.tick}`);
  });
}

async function newPage(who) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on('pageerror', (e) => warnings.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') warnings.push(`${who}: console ${m.type()}: ${m.text()}`);
  });
  return page;
}

let failed = false;
try {
  await main();
  if (args.screenshots) {
    for (const [page, who] of [[alice, 'alice'], [bob, 'bob']]) {
      await page.screenshot({path: join(args.screenshots, `${who}.png`)});
    }
  }
  const errors = warnings.filter((w) => w.includes('page error'));
  if (errors.length) throw new Error(`uncaught errors in the page:\n  ${errors.join('\n  ')}`);
} catch (e) {
  failed = true;
  console.log(`FAILED: ${e.message}`);
  for (const [page, who] of [[alice, 'alice'], [bob, 'bob']]) {
    if (!page) continue;
    try {
      const t = await transcript(page);
      console.log(`--- ${who}'s page (${await connState(page)}), ${await page.$eval('#chat', (x) => x.dataset.conv)}:`);
      for (const m of t) console.log(`  ${m.seq ?? '-'}\t${m.from}\t${m.text}\t${m.tick ?? ''}`);
    } catch (err) {
      console.log(`--- ${who}'s page: unreadable (${err.message})`);
    }
  }
  if (warnings.length) console.log(`--- browser warnings:\n  ${warnings.join('\n  ')}`);
  if (warnings.some((w) => w.includes('history_regressed') || /server has \d+, client holds/.test(w))) {
    console.log('--- the server came back with fewer messages than it had acked: the restart ' +
                'lost acked messages (is --storage disk durable in this build?)');
  }
  for (const s of servers) console.log(`--- server stderr (tail):\n${s.tail()}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const l of links) l.close();
  for (const s of servers) await s.kill();
  rmSync(dataDir, {recursive: true, force: true});
}
log(failed ? 'browser:chat FAILED' : 'browser:chat passed');
process.exit(failed ? 1 : 0);
