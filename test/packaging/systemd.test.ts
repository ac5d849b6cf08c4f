/**
 * The systemd units pass `systemd-analyze verify` (Debian's systemd package), with no warning.
 * No systemd runs in this container, and verify needs none: it loads the units offline. It does
 * check that ExecStart's binary exists and that the units' dependencies (sysinit.target …) load,
 * so the check runs in a scratch root (--root) holding the system's own unit directory, the units
 * under /etc/systemd/system, and /usr/bin/retinad — the host's /usr/bin is not touched.
 */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = path.resolve(import.meta.dirname, '..', '..');
const units = ['retinad-executor.service', 'retinad-scheduler.service'];
const have = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;

/** A scratch root with the system's units, ours (optionally edited), and an executable /usr/bin/retinad. */
function scratchRoot(dir: string, edit: (text: string) => string = (x) => x): string {
  const r = path.join(dir, 'root');
  mkdirSync(path.join(r, 'usr', 'bin'), { recursive: true });
  mkdirSync(path.join(r, 'etc', 'systemd', 'system'), { recursive: true });
  cpSync('/usr/lib/systemd/system', path.join(r, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  writeFileSync(path.join(r, 'usr', 'bin', 'retinad'), readFileSync(path.join(root, 'bin', 'retinad.js')));
  chmodSync(path.join(r, 'usr', 'bin', 'retinad'), 0o755);
  for (const u of units) writeFileSync(path.join(r, 'etc', 'systemd', 'system', u), edit(readFileSync(path.join(root, 'packaging', 'systemd', u), 'utf8')));
  return r;
}

const verify = (r: string) => spawnSync('systemd-analyze', ['verify', `--root=${r}`, ...units], { encoding: 'utf8' });

t.test('systemd-analyze verify passes on both units, without a warning', { skip: have ? false : 'needs systemd-analyze (Debian package systemd)' }, async (t) => {
  const v = verify(scratchRoot(t.testdir({})));
  t.equal(v.status, 0, v.stderr);
  t.equal(v.stdout + v.stderr, '', 'no warnings');
});

t.test('the verifier reads our files: a broken unit is reported', { skip: have ? false : 'needs systemd-analyze' }, async (t) => {
  const v = verify(scratchRoot(t.testdir({}), (x) => x.replace('Restart=on-failure', 'Restart=sometimes')));
  t.match(v.stdout + v.stderr, /retinad-(executor|scheduler)\.service:\d+: Failed to parse service restart specifier/);
});

t.test('the units run the roles as asked: unprivileged user, config, token file, journal, restart, hardening', async (t) => {
  for (const u of units) {
    const text = readFileSync(path.join(root, 'packaging', 'systemd', u), 'utf8');
    const role = u.includes('executor') ? 'executor' : 'scheduler';
    const has = (line: string) => t.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), `${u}: ${line}`);
    has('User=retinad');
    has(`ExecStart=/usr/bin/retinad ${role} --config /etc/retinad/${role}.yaml --token-file /etc/retinad/token`);
    has('Restart=on-failure');
    has('StandardOutput=journal');
    has('NoNewPrivileges=yes');
    has('ProtectSystem=strict');
    has(`ReadWritePaths=/var/lib/retinad/${role}`);
    has(`StateDirectory=retinad/${role}`);
    has('PrivateTmp=yes');
    // The data dir the unit makes writable is the one the example config names.
    t.match(readFileSync(path.join(root, 'packaging', 'config', `${role}.yaml`), 'utf8'), new RegExp(`dataDir: /var/lib/retinad/${role}`), `${role}.yaml uses the unit's data dir`);
  }
});
