/**
 * A cluster node in its own process, for the remote tests. argv: <nats url> <node name>.
 * Serves /echo (replies what it gets; 'crash' crashes it; { sleep } waits that long first) and
 * /sink (an ask of 'count' tells how many tells it got); publishes `from.<node>` on 'go'; writes
 * "ready" once joined, "event <topic> <json>" for each event it receives; /watcher, told
 * [node, path], watches that actor and writes "down <path> <reason as JSON>" when it is down.
 * With a third argument, `partner=<node>`: /account sums the numbers it is told (an ask of 'get'
 * answers the sum), snapshotted after every message with its replica partner <node>:/replica.
 */
import { ActorSystem, type DownSignal, defineActor } from '../../src/index.js';

const [url, node, option] = process.argv.slice(2);
const out = (line: string) => process.stdout.write(`${line}\n`);

const Echo = defineActor<null, unknown>({
  init: () => null,
  async receive(_state, msg, ctx) {
    if (msg === 'crash') throw new Error('boom');
    if (typeof msg === 'object' && msg !== null && 'sleep' in msg) await new Promise((r) => setTimeout(r, (msg as { sleep: number }).sleep));
    ctx.reply({ node, echo: msg });
  },
});

const Listener = defineActor<null, unknown>({
  init: () => null,
  receive(_state, msg, ctx) {
    if (msg === 'go') ctx.publish(`from.${node}`, { hello: node });
  },
  onEvent(_state, event) {
    out(`event ${event.topic} ${JSON.stringify(event.data)} ${event.source ?? '-'}`);
  },
});

const Watcher = defineActor<null, [string, string]>({
  init: () => null,
  receive(_state, [at, path], ctx) {
    ctx.watch(system.remote(at, path));
    out(`watching ${at}:${path}`);
  },
  onSignal(_state, signal: DownSignal) {
    const reason = typeof signal.reason === 'string' ? signal.reason : 'error';
    out(`down ${signal.ref.path} ${reason}`);
  },
});

const Account = defineActor<number, number | 'get'>({
  init: () => 0,
  receive(sum, msg, ctx) {
    if (msg !== 'get') return sum + msg;
    ctx.reply(sum);
    return sum;
  },
});

const system = await ActorSystem.start({
  name: `node-${node}`,
  store: option === undefined ? false : ':memory:',
  logger: { level: 'silent' },
  cluster: { servers: url!, node: node! },
});
system.spawn(Echo, { name: 'echo' });
system.spawn(Watcher, { name: 'watcher' });
if (option?.startsWith('partner=')) system.spawn(Account, { name: 'account', snapshot: { everyMessages: 1 }, partners: [`${option.slice(8)}:/replica`] });
const listener = system.spawn(Listener, { name: 'listener' });
system.subscribe(listener, 'news.**');
out('ready');
process.on('SIGTERM', () => void system.shutdown().then(() => process.exit(0)));
