/** The usage text `retinad --help` prints (and a usage error repeats). */
export const HELP = `retinad — digital-retina device–edge–cloud collaboration runtime (T/AI 116.6)

Usage:
  retinad executor  --listen HOST:PORT --device-id ID --data-dir DIR [--scheduler URL[,URL…] [--command-channel]] [--token-file F | --token T]
                    [--advertise URL] [--max-tasks N] [--device-type 0|1|2] [--longitude L --latitude L]
                    [--trusted-keys DIR] [--plugin-dev-mode] [--plugin-workers N] [--plugin-threads N]
                    [--plugin-max-batch N] [--plugin-max-memory MB] [--media-dir DIR]… [--package-dir DIR]… [--peer URL]… [--allow-private-urls]
  retinad scheduler backup --data-dir DIR --out FILE      (while it runs: one consistent file)
  retinad scheduler restore --data-dir NEWDIR --from FILE (into an empty directory)
  retinad scheduler backup --store etcd://HOST:PORT[,…] --results DIR [--data-dir DIR] --out FILE   (replicas: etcd's snapshot + result files)
  retinad scheduler restore --from FILE --etcd-data-dir NEWDIR --results NEWDIR [--data-dir NEWDIR]
                    [--etcd-name NAME] [--etcd-peer-url URL]   (needs etcdctl, Debian etcd-client; then start etcd on NEWDIR)
  retinad scheduler --listen HOST:PORT --data-dir DIR [--token-file F | --token T] [--device-id ID] [--advertise URL]
                    [--keepalive SECONDS] [--max-retries N] [--max-intake N] [--max-concurrent-tasks N] [--task-order NAME|FILE] [--trusted-keys DIR] [--plugin-dev-mode] [--allow-private-urls]
                    [--initiators FILE] [--max-results-per-task N] [--mqtt-url URL [--mqtt-topic-prefix P] [--mqtt-password-file F]]
                    [--upstream URL --device-id ID [--device-type 1|2] [--longitude L --latitude L] [--upstream-approval] [--upstream-advertise URL] [--command-channel]]   (cascade)
                    [--store etcd://HOST:PORT[,HOST:PORT…] [--results DIR] [--lease-ttl SECONDS]]   (replicas: state in etcd, one leads)
  retinad plugin    install FILE | list | remove ALGID VERSION  --data-dir DIR [--trusted-keys DIR] [--plugin-dev-mode]
  retinad bench     [--plugin FILE.rpk] [--quick] [--json] [--out DIR] [--data-dir DIR] [--trusted-keys DIR] [--plugin-dev-mode]
                    decode capacity, plugin fps/latency vs streams, utilisation (docs/OPERATIONS.md)
  retinad demo      [--clip FILE] [--out DIR]
  retinad version   [--json] [--providers]   package, native addon, decoder backend, accelerators;
                                      --providers also loads ONNX Runtime and tries each execution provider

--config FILE (YAML or JSON) holds the flags of executor/scheduler under "executor:" / "scheduler:",
keys in camelCase (--max-tasks → maxTasks); flags given here win. --metrics-public serves /metrics
without the token (both roles).
--media-dir DIR (repeatable): file:// StreamURLs only under these; --package-dir DIR likewise for
file:// AlgFileURLs (else only the scheduler's repository). URLs to this node itself (loopback,
its own addresses) are refused unless --allow-private-urls; link-local ones always. --peer URL
(repeatable): another executor trusted with the node token besides those the scheduler registered.
--scheduler A,B,… names the scheduler's replicas: the executor registers with the first that
answers and moves to the next when it stops answering; results and reports for one follow it.
Commands with an X-Retinad-Epoch older than the highest seen (a deposed leader's) are refused.
--tls-cert F --tls-key F serve HTTPS; --tls-ca F verifies peers' certificates (both roles).
--token defaults to $RETINAD_TOKEN; --token-file (mode 600) keeps it out of ps. Listening beyond
loopback without a token needs --insecure. Port 0 picks a free port; the URL is printed when ready.
--store etcd://…: any number of schedulers on one etcd; one leads (lease of --lease-ttl, default 5 s),
the others serve reads and pass writes to the leader. --results DIR holds result
payloads and must be the same (shared) directory for every replica. docs/OPERATIONS.md.
Backups (SB9): every SHA-256 is checked before a restore writes anything, and it writes only into
empty directories. An etcd restore is a one-member etcd (--etcd-name, default "default";
--etcd-peer-url, default http://localhost:2380); revisions, hence leader epochs, carry on.
`;
