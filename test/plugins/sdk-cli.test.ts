/** The author's workflow with retinad-plugin: init → build → pack (signed) → verify → sign with another key → verify again. */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { retinadPlugin } from '../helpers/entry.ts';

const run = (args: string[]) => spawnSync(process.execPath, [...retinadPlugin, ...args], { encoding: 'utf8' });

t.test('scaffold to verified package in five commands', async (t) => {
  const dir = t.testdir({});
  const k1 = run(['keygen', '--out', path.join(dir, 'k1')]);
  t.equal(k1.status, 0, k1.stderr);
  t.equal(run(['keygen', '--out', path.join(dir, 'k2')]).status, 0);
  t.equal((readFileSync(path.join(dir, 'k1', 'publisher.key')).length > 0), true);
  const plugin = path.join(dir, 'mean');
  const init = run(['init', '--dir', plugin, '--name', 'mean_level', '--id', '5001']);
  t.equal(init.status, 0, init.stderr);
  t.equal(run(['init', '--dir', plugin, '--name', 'mean_level']).status, 2, 'init refuses to overwrite');
  t.match(run(['init', '--dir', path.join(dir, 'x'), '--name', 'Bad-Name']).stderr, /--name: lower-case letters/);
  const build = run(['build', '--dir', plugin]);
  t.equal(build.status, 0, build.stderr);
  const rpk = path.join(dir, 'mean.rpk');
  t.equal(run(['pack', '--dir', plugin, '--key', path.join(dir, 'k1', 'publisher.key'), '--out', rpk]).status, 0);
  const ok = run(['verify', rpk, '--trusted-key', path.join(dir, 'k1', 'publisher.pub')]);
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /ok: AlgID 5001 mean_level 0\.1\.0, 1 files, signed by [0-9a-f]{16}/);
  const wrong = run(['verify', rpk, '--trusted-key', path.join(dir, 'k2', 'publisher.pub')]);
  t.equal(wrong.status, 3, 'exit 3: package refused');
  t.match(wrong.stderr, /is not among this executor's trusted publisher keys/);
  const re = path.join(dir, 'mean-k2.rpk');
  t.equal(run(['sign', '--in', rpk, '--key', path.join(dir, 'k2', 'publisher.key'), '--out', re]).status, 0);
  t.equal(run(['verify', re, '--trusted-key', path.join(dir, 'k2', 'publisher.pub')]).status, 0, 're-signed package verifies with the new key');
  t.equal(run(['frobnicate']).status, 2);
});
