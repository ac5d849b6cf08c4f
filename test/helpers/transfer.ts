/**
 * EC7 test helpers: a cascade whose schedulers and executors trust the examples' key and the
 * trained-models keys named, made before it starts (as learning.ts makes one scheduler's);
 * versions of an example package signed as a scheduler signs what it trained; the transfer
 * route and the repository list.
 */
import path from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { startCascade, type CascadeCluster } from './cascade-cluster.ts';
import { example } from './examples.ts';
import { generateKeys, keyId } from '../../src/plugins/keys.ts';
import { buildPackage, verifyPackage } from '../../src/plugins/package-file.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { request } from 'undici';
import type { RetinaClient } from '../../src/net/client.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

export interface TransferCascade {
  c: CascadeCluster;
  /** Each lower scheduler's trained-models key (the key its training signs with). */
  keys: Map<string, { privatePem: string; publicPem: string; keyId: string }>;
}

/**
 * A cascade of `sites` where every lower scheduler's trained-models key is made beforehand; the
 * top, the lower schedulers and the executors trust the examples' key and the keys of `trusted`
 * (lower schedulers' IDs) only; `lowerArgs` adds flags to a lower scheduler's.
 */
export async function transferCascade(dir: string, sites: Record<string, string[]>, trusted: string[], lowerArgs: (id: string) => string[] = () => []): Promise<TransferCascade> {
  const trust = path.join(dir, 'trust');
  mkdirSync(trust, { recursive: true });
  writeFileSync(path.join(trust, 'examples.pub'), readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub')));
  const keys = new Map<string, { privatePem: string; publicPem: string; keyId: string }>();
  const cascade = path.join(dir, 'cascade');
  for (const id of Object.keys(sites)) {
    const k = generateKeys();
    mkdirSync(path.join(cascade, id), { recursive: true });
    writeFileSync(path.join(cascade, id, 'trained-models.key'), k.privatePem, { mode: 0o600 });
    writeFileSync(path.join(cascade, id, 'trained-models.pub'), k.publicPem);
    if (trusted.includes(id)) writeFileSync(path.join(trust, `${id}-trained.pub`), k.publicPem);
    keys.set(id, { privatePem: k.privatePem, publicPem: k.publicPem, keyId: keyId(createPublicKey(k.publicPem)) });
  }
  const args = () => ['--trusted-keys', trust];
  const c = await startCascade(cascade, sites, { topArgs: args(), lowerArgs: (id) => [...args(), ...lowerArgs(id)], executorArgs: args });
  return { c, keys };
}

/** The example `name` (e.g. motion_detection-1.0.0) as `version`, signed with `privatePem` (as training signs its versions). */
export function versionOf(name: string, version: string, privatePem: string): Buffer {
  const v = verifyPackage(readFileSync(example(name)), new TrustStore(), { devMode: true });
  const { files: _files, ...manifest } = v.manifest;
  return buildPackage({ ...manifest, AlgVersion: version }, v.files, privatePem);
}

/** Publishes `pkg` to a scheduler's repository with the node token; the HTTP status and reply. */
export async function publishTo(url: string, pkg: Buffer, token: string): Promise<{ status: number; body: { StatusCode?: string; Message?: string } }> {
  const r = await request(`${url}/System/AlgorithmRepository`, { method: 'POST', body: pkg, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } });
  return { status: r.statusCode, body: await r.body.json() as { StatusCode?: string; Message?: string } };
}

export interface TransferAnswer { StatusCode: string; Message?: string; AlgID?: number; AlgVersion?: string; Peer?: string; Direction?: string; size?: number; signedBy?: string; Already?: boolean }

/** `POST /System/AlgorithmRepository/Transfer` at `url`. */
export async function transfer(client: RetinaClient, url: string, body: Record<string, unknown>): Promise<{ status: number; body: TransferAnswer }> {
  const r = await client.send('POST', `${url}/System/AlgorithmRepository/Transfer`, body);
  return { status: r.status, body: r.body as TransferAnswer };
}

export interface RepoRow { AlgID: number; AlgVersion: string; signedBy: string | null; TransferredFrom?: string; AlgFileURL: string; size: number }

/** A scheduler's repository list. */
export async function repoList(client: RetinaClient, url: string): Promise<RepoRow[]> {
  return ((await client.send('GET', `${url}/System/AlgorithmRepository`)).body as { AlgorithmList: RepoRow[] }).AlgorithmList;
}
