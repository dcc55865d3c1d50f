/**
 * `npm run repl`: the flagship trading tree (supervisors/trading.ts) with a REPL on this
 * terminal — `.tree`, `.inspect /trading/portfolio`, `.kill /trading/strategy`, `.help`…; `.exit`
 * (or Ctrl-D) shuts the system down and exits. The price feed emits only when asked:
 * `.ask /trading/feed {"type":"emit","from":0,"count":1000}` runs a thousand price events.
 *
 *   npm run repl -- --db data/genesis.db --seed 42 --socket /tmp/trading.sock
 *
 * `--socket` also serves the REPL there, for `genesis attach` from another terminal.
 */
import { parseArgs } from 'node:util';
import { ActorSystem } from '../src/index.js';
import { startSession } from '../src/repl/session.js';
import { tradingTree } from './trading.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'data/genesis.db' },
    seed: { type: 'string', default: '42' },
    socket: { type: 'string' },
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be an integer (got ${values.seed})`);
  process.exit(2);
}

const system = await ActorSystem.start({ name: 'trading', store: values.db, logger: { level: process.env.LOG_LEVEL ?? 'silent' } });
await system.start(tradingTree({ seed }));
if (values.socket !== undefined) await system.serveRepl({ socket: values.socket });

const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
console.log(`Genesis REPL · system 'trading' (snapshots in ${values.db}) · .help lists the commands; .exit shuts the system down.`);
const session = startSession(system, { input: process.stdin, output: process.stdout, terminal, exitHelp: 'shut the system down and exit' });
process.once('SIGTERM', () => session.close());
await session.ended;
await system.shutdown();
process.stdin.pause(); // nothing else holds the process: it exits
