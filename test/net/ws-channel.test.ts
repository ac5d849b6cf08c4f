/**
 * PROTOCOL.md, NAT: the WebSocket command channel between real servers over loopback. A node
 * whose CommandURL cannot be connected to opens `GET /System/Command` on its scheduler with its
 * session token; a command the scheduler cannot deliver over HTTP goes down the channel, runs
 * through the node's own command route, and its reply comes back matched by CommandIdx; a
 * repeated CommandIdx is answered from the first reply; only device sessions may open a
 * channel; a dropped channel is opened again.
 */
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { createBaseServer } from '../../src/api/http-server.ts';
import { commandRoutes } from '../../src/api/routes/command.ts';
import { attachCommandChannel } from '../../src/api/routes/command-channel.ts';
import { ChannelHub } from '../../src/net/ws-channel.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { commandChannel } from '../../src/role-process.ts';
import { createLogger } from '../../src/log.ts';
import { TaskStatusQueryReply, type Principal } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';

const NODE_TOKEN = 'node-token-0123456789abcdef';
const SESSION = 'session-of-edge-1-0123456789';
/** Nothing listens there. */
const UNREACHABLE = 'http://127.0.0.1:9';

t.test('PROTOCOL NAT: commands the scheduler cannot connect for go down the channel the node opened (same envelope, CommandIdx de-duplication, replies on the socket), device sessions only, reopened when dropped', async (t) => {
  const log = createLogger('test', 'warn');
  const authenticate = (tok: string): Principal | undefined => (tok === SESSION ? { kind: 'device', deviceId: 'edge-1' } : undefined);
  const scheduler = createBaseServer({ logger: log, token: NODE_TOKEN, authenticate });
  const hub = new ChannelHub();
  attachCommandChannel(scheduler, { hub, authenticate, senderId: 'scheduler/t1' });
  await scheduler.listen({ host: '127.0.0.1', port: 0 });
  const schedulerUrl = `http://127.0.0.1:${(scheduler.server.address() as AddressInfo).port}`;
  t.teardown(() => scheduler.close());

  // The node: its real command route, with a handler that counts how often it runs.
  let runs = 0;
  const node = createBaseServer({ logger: log, token: NODE_TOKEN });
  await node.register(commandRoutes({ task_status_query: async () => { runs++; return { StatusCode: '0', TaskStatusSet: [{ DeviceID: 'edge-1', TaskStatusList: [] }] }; } }));
  await node.ready();
  t.teardown(() => node.close());
  const channel = commandChannel(node, schedulerUrl, NODE_TOKEN, { token: () => SESSION, ready: () => true }, log);
  t.teardown(() => channel.stop());
  await waitFor('the channel to open', async () => (hub.has('edge-1') ? true : undefined), 10_000, 50);

  // The scheduler's client: HTTP to the node's CommandURL cannot connect, so the channel carries it.
  const client = new RetinaClient({ token: NODE_TOKEN, senderId: 'scheduler/t1' });
  t.teardown(() => client.close());
  client.setCommandChannel((base) => (base === UNREACHABLE && hub.has('edge-1') ? (env) => hub.request('edge-1', env, 5000) : undefined));
  const reply = await client.sendCommand(UNREACHABLE, { CommandType: 'task_status_query', DeviceID: 'edge-1', MessageBody: {} }, TaskStatusQueryReply);
  t.strictSame(reply.TaskStatusSet, [{ DeviceID: 'edge-1', TaskStatusList: [] }], 'the node\'s reply, validated by the reply schema');
  t.equal(runs, 1, 'run once');
  const noChannel = new RetinaClient({ token: NODE_TOKEN, senderId: 'scheduler/t2' });
  t.teardown(() => noChannel.close());
  await t.rejects(noChannel.sendCommand(UNREACHABLE, { CommandType: 'task_status_query', DeviceID: 'edge-1', MessageBody: {} }, TaskStatusQueryReply), /ECONNREFUSED/, 'without a channel the connect failure stands');

  // The same CommandIdx from the same sender again: the first reply, the command not run twice.
  const env = { CommandType: 'task_status_query', CommandIdx: 4242, DeviceID: 'edge-1', MessageBody: {} };
  const first = await hub.request('edge-1', env, 5000);
  const again = await hub.request('edge-1', env, 5000);
  t.equal(runs, 2, 'de-duplicated by sender (the scheduler\'s X-Sender-ID from the upgrade reply) and CommandIdx');
  t.strictSame(again.body, first.body, 'answered with the first reply');
  t.match(first.body, { CommandType: 'task_status_query', CommandIdx: 4242, StatusCode: '0' }, 'the reply echoes CommandType and CommandIdx');
  // A malformed command is refused by the node's route, naming the field, over the channel too.
  const bad = await hub.request('edge-1', { CommandType: 'task_status_query', CommandIdx: 4243, MessageBody: { DeviceList: 'x' } }, 5000);
  t.match(bad.body, { StatusCode: '1', CommandIdx: 4243, Message: /DeviceList/ });

  // Only a device session may open a channel: the node token or none is refused before the upgrade.
  for (const [what, headers] of [['node token', { authorization: `Bearer ${NODE_TOKEN}` }], ['no token', {}]] as const) {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${schedulerUrl.replace('http', 'ws')}/System/Command`, { headers });
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
      ws.on('open', () => { resolve(101); ws.close(); });
      ws.on('error', () => resolve(-1));
    });
    t.equal(status, 401, `${what}: 401`);
  }

  // The scheduler drops every channel: the node opens its own again (backoff from 250 ms).
  hub.close();
  t.notOk(hub.has('edge-1'), 'dropped');
  await waitFor('the channel to reopen', async () => (hub.has('edge-1') ? true : undefined), 10_000, 50);
  const after = await hub.request('edge-1', { CommandType: 'task_status_query', CommandIdx: 4244, DeviceID: 'edge-1', MessageBody: {} }, 5000);
  t.match(after.body, { StatusCode: '0', CommandIdx: 4244 }, 'commands flow again');
});
