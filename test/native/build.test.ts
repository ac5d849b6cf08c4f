/**
 * The native addon builds offline with cmake-js (no header download: napi_versions in package.json),
 * with FFmpeg when pkg-config finds the dev libraries and without them when asked (or absent).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { nativeBuildInfo, decoderBackendInfo } from '../../src/runtime/backend.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const hasFFmpegDev = spawnSync('pkg-config', ['--exists', 'libavcodec', 'libavformat', 'libswscale', 'libavutil']).status === 0;

t.test('the installed addon loads and reports its build', async (t) => {
  const n = nativeBuildInfo();
  t.ok(n.info, `addon loaded (${n.error ?? 'ok'})`);
  t.equal(n.info?.napiVersion, 8);
  // RETINAD_NATIVE_PATH names another build (the FFmpeg-less one of the second pass): what
  // pkg-config finds here says nothing about it, so only its own report is checked against auto.
  if (process.env.RETINAD_NATIVE_PATH) {
    t.equal(decoderBackendInfo().Active, n.info?.ffmpeg ? 'native' : 'ffmpeg-pipe', 'auto picks native exactly when FFmpeg was built in');
    return;
  }
  if (hasFFmpegDev) t.match(n.info?.ffmpeg?.avcodec ?? '', /^\d+\.\d+\.\d+$/, 'built with FFmpeg: pkg-config found the dev libraries');
  else t.equal(n.info?.ffmpeg, null, 'built without FFmpeg: no dev libraries here');
  t.equal(decoderBackendInfo().Active, hasFFmpegDev ? 'native' : 'ffmpeg-pipe', 'auto picks native exactly when FFmpeg was built in');
});

t.test('builds and loads without FFmpeg (RETINAD_WITH_FFMPEG=0), offline', async (t) => {
  const out = path.join(t.testdir({}), 'build');
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), 'compile', '-d', root, '--out', out, '--CDRETINAD_WITH_FFMPEG=OFF'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, http_proxy: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9' } });
  t.equal(r.status, 0, `cmake-js build: ${r.stderr.slice(-500)}`);
  t.notMatch(r.stdout + r.stderr, /Downloading|nodejs\.org/, 'no Node headers downloaded');
  const addon = require(path.join(out, 'Release', 'retinad_native.node')) as { buildInfo(): { ffmpeg: unknown } };
  t.equal(addon.buildInfo().ffmpeg, null, 'FFmpeg support left out');
});
