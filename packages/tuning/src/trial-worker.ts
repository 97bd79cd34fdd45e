/**
 * Entry of a trial worker process (`node --import tsx packages/tuning/src/trial-worker.ts`, started
 * by the orchestrator with an IPC channel). Before loading anything heavy it makes sure the worker
 * dies with its orchestrator: a SIGKILLed parent closes the IPC channel ('disconnect'), and the
 * parent pid is polled as a second guard. Messages that arrive while the runner loads are kept.
 */
const parentPid = process.ppid;
process.env.MRI_TUNING_WORKER_T0 = String(performance.now());
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  if (process.ppid !== parentPid || !process.connected) process.exit(0);
}, 500).unref();
if (!process.send) {
  process.stderr.write('trial-worker.ts is started by the sweep orchestrator (it needs an IPC channel)\n');
  process.exit(2);
}
const early: unknown[] = [];
const keep = (m: unknown) => early.push(m);
process.on('message', keep);
const { serve } = await import('./trial-runner.ts');
process.off('message', keep);
serve(early);
export {};
