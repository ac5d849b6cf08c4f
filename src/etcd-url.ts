/**
 * `--store etcd://host:port[,host:port…]` → the etcd client's endpoints. Its own module: the
 * command line checks the flag before anything starts without loading the replica role.
 */
export function parseEtcdUrl(s: string): string[] {
  const m = /^etcd:\/\/([^/?#]+)\/?$/.exec(s);
  const hosts = m?.[1]?.split(',') ?? [];
  if (!hosts.length || hosts.some((h) => !/^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(h) || Number(h.slice(h.lastIndexOf(':') + 1)) > 65535)) {
    throw new Error(`--store: "${s}" is not etcd://host:port[,host:port…]`);
  }
  return hosts.map((h) => `http://${h}`);
}
