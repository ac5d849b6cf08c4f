/**
 * The URLs a dispatch names, checked before anything is fetched or opened (issue 10): StreamURL
 * (net/url-policy: files only under --media-dir, never this node itself), each OutputURL (HTTP(S),
 * no credentials in it, not this node), and AlgFileURL — only the configured scheduler's
 * repository, or a file under --package-dir. Which destinations may be sent the node token is
 * decided here too: configured peers and executors the scheduler registered, nothing else.
 */
import type { TaskDispatchInfo } from '../protocol/index.ts';
import { checkUrl, type UrlPolicy } from '../net/url-policy.ts';
import { baseUrl, type RetinaClient } from '../net/client.ts';
import type { SchedulerReplicas } from './replicas.ts';

export interface UrlGuardOptions {
  policy: UrlPolicy;
  /** Directories file:// AlgFileURLs may be read from. */
  packageDirs: readonly string[];
  /** The scheduler's replicas: each one's repository is the scheduler's; the current one is asked who registered. */
  schedulers?: SchedulerReplicas;
  /** Base URLs of executors trusted with the node token without asking the scheduler. */
  peers: readonly string[];
  /** Talks to the scheduler (its session token), to learn which executors it registered. */
  client: RetinaClient;
}

const REPOSITORY = '/System/AlgorithmRepository/';
const origin = (u: string): string | null => { try { return new URL(u).origin; } catch { return null; } };

export class UrlGuard {
  private registered: { at: number; origins: Set<string> } | null = null;

  constructor(private readonly o: UrlGuardOptions) {}

  /** Why one of the dispatch's URLs may not be used, or null. */
  async problem(t: TaskDispatchInfo): Promise<string | null> {
    try {
      if (t.InputInfo.StreamURL) await checkUrl('InputInfo.StreamURL', t.InputInfo.StreamURL, 'source', this.o.policy);
      for (const d of t.DstDeviceList) if (d.OutputURL) await checkUrl('DstDeviceList.OutputURL', d.OutputURL, 'callback', this.o.policy);
      const pkg = t.AlgModelInfo.AlgFileURL;
      if (pkg) await this.checkPackageUrl(pkg);
    } catch (err) {
      return (err as Error).message;
    }
    return null;
  }

  /** The local path (file://) or URL a package may be fetched from; throws naming the rule. */
  async checkPackageUrl(url: string): Promise<string> {
    if (url.startsWith('file:')) {
      return checkUrl('AlgModelInfo.AlgFileURL', url, 'source', { mediaDirs: this.o.packageDirs, allowPrivate: false })
        .catch(() => { throw new Error('AlgModelInfo.AlgFileURL: is not an allowed package (a regular file under a --package-dir)'); });
    }
    if (!this.isRepository(url)) throw new Error('AlgModelInfo.AlgFileURL: must be the scheduler\'s algorithm repository (or a file under a --package-dir)');
    return url;
  }

  /** True when `url` is in a configured scheduler replica's algorithm repository (downloads there carry our session token). */
  isRepository(url: string): boolean {
    if (!this.o.schedulers) return false;
    try {
      const u = new URL(url);
      return this.o.schedulers.replicaOf(url) !== undefined && u.pathname.startsWith(REPOSITORY) && !u.username && !u.password;
    } catch {
      return false;
    }
  }

  /** May `dest` (a base URL results go to) be sent the node token? Only configured peers and executors the scheduler registered. */
  async trusted(dest: string): Promise<boolean> {
    const o = origin(dest);
    if (!o) return false;
    if (this.o.peers.some((p) => origin(p) === o)) return true;
    return (await this.registeredOrigins()).has(o);
  }

  private async registeredOrigins(): Promise<Set<string>> {
    // Asked again at most every 10 s: a stage that moved to a newly registered executor is known soon.
    if (this.registered && Date.now() - this.registered.at < 10_000) return this.registered.origins;
    const origins = new Set<string>();
    if (this.o.schedulers) {
      try {
        // Paged (1,000 a page): followed to the end, at most 100 pages (100,000 executors).
        let after: string | undefined;
        for (let page = 0; page < 100; page++) {
          const r = await this.o.client.send('GET', `${baseUrl(this.o.schedulers.current)}/System/DeviceList${after ? `?after=${encodeURIComponent(after)}` : ''}`);
          const body = r.body as { DeviceList?: Array<{ CommandURL?: string }>; Next?: string };
          for (const d of body.DeviceList ?? []) {
            const x = d.CommandURL ? origin(d.CommandURL) : null;
            if (x) origins.add(x);
          }
          if (!body.Next) break;
          after = body.Next;
        }
      } catch {
        // Unknown for now: nothing is trusted until the scheduler answers.
      }
    }
    this.registered = { at: Date.now(), origins };
    return origins;
  }
}
