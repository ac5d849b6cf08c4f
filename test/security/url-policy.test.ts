/**
 * Sources and callbacks a request names are confined (issue 10, item 4): files only under a
 * --media-dir, regular files only, no way out through `..` or links; never this node itself in
 * any spelling (generated); callbacks HTTP only, without credentials; a missing file and a
 * forbidden one answer alike.
 */
import t from 'tap';
import fc from 'fast-check';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import { checkUrl, forbiddenAddress, UrlRefused, type UrlPolicy } from '../../src/net/url-policy.ts';

const SEED = Number(process.env.RETINAD_FC_SEED ?? 20261129);
const dir = t.testdir({ media: { 'cam.mp4': 'video', sub: { 'b.mp4': 'video' },
  'list.mp4': '#EXTM3U\n#EXTINF:2,\nfile:///etc/ssl/private/cam.ts\n', 'bom.m3u8': '\uFEFF  #EXTM3U\n../../secret/x.ts\n', 'cat.mp4': 'ffconcat version 1.0\nfile /etc/passwd\n',
  'dash.mpd': '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"></MPD>' }, secret: { 'key.pem': 'secret' } });
const media = path.join(dir, 'media');
const policy: UrlPolicy = { mediaDirs: [media], allowPrivate: false };
symlinkSync(path.join(dir, 'secret', 'key.pem'), path.join(media, 'link.mp4'));
mkdirSync(path.join(media, 'dir.mp4'));
execFileSync('mkfifo', [path.join(media, 'fifo.mp4')]);

const refused = async (p: Promise<unknown>): Promise<string> => {
  try { await p; } catch (err) { if (err instanceof UrlRefused) return err.message; throw err; }
  throw new Error('expected a refusal');
};

t.test('files: inside the media dir only, regular files only, same answer outside whether the file exists or not', async (t) => {
  t.equal(await checkUrl('StreamURL', pathToFileURL(path.join(media, 'cam.mp4')).href, 'source', policy), path.join(media, 'cam.mp4'));
  t.equal(await checkUrl('StreamURL', pathToFileURL(path.join(media, 'sub', 'b.mp4')).href, 'source', policy), path.join(media, 'sub', 'b.mp4'));
  const forbidden = [
    pathToFileURL(path.join(dir, 'secret', 'key.pem')).href,            // outside
    `file://${media}/../secret/key.pem`,                                  // dot-dot
    `file://${media}/%2e%2e/secret/key.pem`,                              // encoded dot-dot
    pathToFileURL(path.join(media, 'link.mp4')).href,                     // a link out
    pathToFileURL(path.join(media, 'dir.mp4')).href,                      // a directory
    pathToFileURL(path.join(media, 'fifo.mp4')).href,                     // a FIFO (read forever)
    'file:///dev/zero', 'file:///etc/passwd', 'file:///proc/self/environ',
    `file://otherhost${media}/cam.mp4`,
  ];
  // A file not there (yet) inside the media dir passes: opening it is then a data-source error (60).
  t.equal(await checkUrl('StreamURL', pathToFileURL(path.join(media, 'later.mp4')).href, 'source', policy), path.join(media, 'later.mp4'));
  const missing = await refused(checkUrl('StreamURL', pathToFileURL(path.join(dir, 'secret', 'nope.pem')).href, 'source', policy));
  for (const u of forbidden) t.equal(await refused(checkUrl('StreamURL', u, 'source', policy)), missing, `refused like a missing file: ${u.replace(dir, '…')}`);
  t.match(missing, /^StreamURL: is not an allowed source/);
  t.equal(await refused(checkUrl('StreamURL', pathToFileURL(path.join(media, 'cam.mp4')).href, 'source', { mediaDirs: [], allowPrivate: false })), missing, 'no media dir: no files');
  t.equal(await refused(checkUrl('StreamURL', 'file:///nonexistent-dir/x.mp4', 'source', policy)), missing, 'a missing directory outside: the same answer');
});

t.test('a playlist file is refused whatever its name: FFmpeg would open its entries outside the media dir', async (t) => {
  for (const f of ['list.mp4', 'bom.m3u8', 'cat.mp4', 'dash.mpd']) {
    t.match(await refused(checkUrl('StreamURL', pathToFileURL(path.join(media, f)).href, 'source', policy)), /^StreamURL: is a playlist \(HLS, DASH or ffconcat\)/, f);
  }
});

t.test('this node in any spelling is refused; other hosts pass', async (t) => {
  const self = ['127.0.0.1', '127.1', '0x7f.1', '2130706433', '017700000001', '127.255.255.254', 'localhost', '0.0.0.0', '0', '[::1]', '[::]',
    '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '169.254.169.254', '[fe80::1]'];
  for (const scheme of ['rtsp', 'http', 'rtmp']) {
    for (const h of self) t.match(await refused(checkUrl('StreamURL', `${scheme}://${h}:8554/x`, 'source', policy)), /^StreamURL: host .* is (loopback|an unspecified address|link-local|this node's own address)/, `${scheme}://${h}`);
  }
  const own = Object.values(os.networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
  for (const a of own) t.match(await refused(checkUrl('NotifyURL', `http://${a}/x`, 'callback', policy)), /this node's own address/, `own interface ${a}`);
  t.equal(await checkUrl('StreamURL', 'rtsp://user:pw@192.168.1.64:554/Streaming/Channels/101', 'source', policy), 'rtsp://user:pw@192.168.1.64:554/Streaming/Channels/101', 'a camera on a private network is fine');
  t.equal(await checkUrl('StreamURL', 'rtsp://127.0.0.1:8554/x', 'source', { ...policy, allowPrivate: true }), 'rtsp://127.0.0.1:8554/x', '--allow-private-urls lets loopback through');
  t.match(await refused(checkUrl('StreamURL', 'http://169.254.169.254/latest/meta-data/', 'source', { ...policy, allowPrivate: true })), /is link-local; not allowed/, 'but never cloud metadata (link-local)');
});

t.test('generated loopback and link-local addresses are all refused', async (t) => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffff }), fc.constantFrom('dotted', 'int', 'mapped'), async (low, ll, form) => {
    const v4 = form === 'int' ? String((127 << 24 >>> 0) + low) : `127.${low >> 16}.${(low >> 8) & 255}.${low & 255}`;
    const host = form === 'mapped' ? `[::ffff:127.${low >> 16}.${(low >> 8) & 255}.${low & 255}]` : v4;
    await refused(checkUrl('OutputURL', `http://${host}/r`, 'callback', policy));
    await refused(checkUrl('OutputURL', `http://169.254.${ll >> 8}.${ll & 255}/r`, 'callback', policy));
  }), { numRuns: 200, seed: SEED });
  t.pass(`200 generated loopback/link-local spellings refused (seed ${SEED})`);
  t.equal(forbiddenAddress('10.1.2.3', new Set()), null, 'RFC 1918 stays allowed');
});

t.test('callbacks: HTTP(S) only, no credentials; sources: known schemes only', async (t) => {
  t.match(await refused(checkUrl('NotifyURL', 'file:///tmp/x', 'callback', policy)), /^NotifyURL: scheme file: is not allowed \(http, https\)/);
  t.match(await refused(checkUrl('NotifyURL', 'gopher://example.com/', 'callback', policy)), /scheme gopher: is not allowed/);
  t.match(await refused(checkUrl('NotifyURL', 'http://u:p@example.com/', 'callback', policy)), /must not carry credentials/);
  t.match(await refused(checkUrl('StreamURL', 'concat:/etc/passwd|/etc/hosts', 'source', policy)), /scheme concat: is not allowed/);
  t.match(await refused(checkUrl('StreamURL', 'subfile,,start,0,end,0,,:/etc/passwd', 'source', policy)), /is not an absolute URL|scheme/);
  t.match(await refused(checkUrl('StreamURL', '/etc/passwd', 'source', policy)), /is not an absolute URL/);
  t.match(await refused(checkUrl('StreamURL', 'http://example.com/\r\nHost: evil', 'source', policy)), /control characters/);
  t.match(await refused(checkUrl('StreamURL', 'http://' + 'a'.repeat(5000), 'source', policy)), /longer than 4096/);
});
