/** `retinad plugin install FILE | list | remove ALGID VERSION` on an executor's data directory. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PluginRegistry } from './registry.ts';
import { PluginPool } from './pool.ts';
import { TrustStore } from './keys.ts';

export async function runPluginCommand(args: string[], o: { dataDir: string; trustedKeys?: string; devMode?: boolean }): Promise<void> {
  const [sub, ...rest] = args;
  const trust = TrustStore.fromDir(o.trustedKeys ?? path.join(o.dataDir, 'trusted-keys'));
  const pool = sub === 'install' ? new PluginPool({ workers: 1 }) : null;
  const reg = new PluginRegistry(o.dataDir, trust, pool, { devMode: o.devMode });
  try {
    switch (sub) {
      case 'install': {
        if (!rest[0]) throw new Error('plugin install: FILE is required');
        const r = await reg.install(readFileSync(rest[0]));
        process.stdout.write(`${r.AlgID} ${r.AlgVersion}: ${r.status}${r.error ? ` (${r.error})` : ''}; new tasks get ${r.active ?? 'nothing'}\n`);
        if (r.status !== 'valid') process.exitCode = 3;
        return;
      }
      case 'list':
        for (const e of reg.entries()) process.stdout.write(`${e.AlgID}\t${e.AlgType}\t${e.AlgVersion}\t${e.status}${e.AlgVersion === reg.activeVersion(e.AlgID) ? '\tactive' : ''}\t${e.signedBy ?? 'unsigned'}\n`);
        return;
      case 'remove':
        if (!rest[0] || !rest[1]) throw new Error('plugin remove: ALGID VERSION are required');
        reg.remove(Number(rest[0]), rest[1], () => false);
        process.stdout.write(`removed ${rest[0]} ${rest[1]}\n`);
        return;
      default:
        throw new Error(`plugin: unknown subcommand "${sub ?? ''}" (install, list, remove)`);
    }
  } finally {
    await pool?.close();
  }
}
