/** Builds the test plugins (test/fixtures/plugins/*) and packs them, signed with a test key. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { generateKeys } from '../../src/plugins/keys.ts';
import { buildPackage } from '../../src/plugins/package-file.ts';
import type { PluginManifest } from '../../src/plugins/manifest.ts';
import { retinadPlugin } from './entry.ts';
import { identityModel } from './onnx.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
export const testKeys = generateKeys();
export const otherKeys = generateKeys();

/** Compiles a fixture (cached by mtime) and returns its wasm bytes. */
export function fixtureWasm(name: string): Buffer {
  const dir = path.join(root, 'test', 'fixtures', 'plugins', name);
  const wasm = path.join(dir, 'build', 'plugin.wasm');
  const src = path.join(dir, 'assembly', 'index.ts');
  const newest = Math.max(statSync(src).mtimeMs, statSync(path.join(dir, 'plugin.json')).mtimeMs);
  if (!existsSync(wasm) || statSync(wasm).mtimeMs < newest) {
    const r = spawnSync(process.execPath, [...retinadPlugin, 'build', '--dir', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build ${name}: ${r.stderr}`);
  }
  return readFileSync(wasm);
}

export function fixtureManifest(name: string): Omit<PluginManifest, 'files'> {
  return JSON.parse(readFileSync(path.join(root, 'test', 'fixtures', 'plugins', name, 'plugin.json'), 'utf8'));
}

/** A package of fixture `name`; `override` changes manifest fields, `wasmFrom` takes another fixture's code. */
export function fixturePackage(name: string, o: { override?: Partial<PluginManifest>; wasmFrom?: string; unsigned?: boolean; key?: string } = {}): Buffer {
  const m = { ...fixtureManifest(name), ...(o.override ?? {}) } as Omit<PluginManifest, 'files'>;
  const files = new Map([['files/plugin.wasm', fixtureWasm(o.wasmFrom ?? name)]]);
  return buildPackage(m, files, o.unsigned ? undefined : o.key ?? testKeys.privatePem);
}

/**
 * The echo fixture with one model (an identity over its uint8 32×24 NHWC input), so the pool has
 * a real ONNX Runtime session to place; `override` sets e.g. resources.accelerator.
 */
export function echoWithModelPackage(o: { override?: Partial<PluginManifest>; AlgID?: number } = {}): Buffer {
  const model = identityModel('uint8', [1, 24, 32, 3]);
  const m = {
    ...fixtureManifest('echo'), AlgID: o.AlgID ?? 9011, AlgType: 'echo_model',
    models: [{ ModelID: 7, ModelVersion: 'identity-1', file: 'files/identity.onnx', sha256: createHash('sha256').update(model).digest('hex'),
      inputs: [{ name: 'x', shape: [1, 24, 32, 3], type: 'uint8' as const }], outputs: [{ name: 'y', shape: [1, 24, 32, 3], type: 'uint8' as const }] }],
    ...(o.override ?? {}),
  } as Omit<PluginManifest, 'files'>;
  return buildPackage(m, new Map([['files/plugin.wasm', fixtureWasm('echo')], ['files/identity.onnx', model]]), testKeys.privatePem);
}
