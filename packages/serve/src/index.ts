// The predict server: the top of the DAG, so no other package imports it; this entry is for users who
// embed the server in their own Node program (the CLI is src/cli.ts), hence the @public tags (knip).
/** @public */
export { startServer, type PredictHandler, type PredictResponse, type ServerOptions, type RunningServer } from './server.ts';
/** @public */
export { loadPredictHandler, type ModelHandler } from './predictor.ts';
/** @public */
export { runServe, type ServeArgs } from './run.ts';
