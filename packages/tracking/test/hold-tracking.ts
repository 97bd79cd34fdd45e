/**
 * Test helper run as a child process: the only writer of a tracking file, holding DuckDB's lock.
 * Each stdin line `sweep <id>` commits one sweep row and answers `committed <id>`; `exit` closes.
 */
import readline from 'node:readline';
import { openTracking } from '../src/tracking.ts';

const file = process.argv[2];
const t = await openTracking(file);
process.stdout.write('open\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [cmd, id] = line.trim().split(' ');
  if (cmd === 'sweep') {
    await t.run('INSERT INTO sweeps (sweep_id, name, status, created_at) VALUES ($1, $2, $3, current_timestamp)', [id, 'held', 'running']);
    process.stdout.write(`committed ${id}\n`);
  } else if (cmd === 'exit') {
    break;
  }
}
await t.close();
process.stdout.write('closed\n', () => process.exit(0));
