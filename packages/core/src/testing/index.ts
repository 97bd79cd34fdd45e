/** Helpers for the test suite and its setup step (`@mri-robust/core/testing`); never imported by src. */
export {
  CHROMIUM_ARGS,
  chromiumLaunchOptions,
  ensureChromium,
  findChromium,
  playwrightChromiums,
} from './browser.ts';
export { describeStrictCliFlags } from './cli-flags.ts';
export { runCli, runSweepCli } from './cli-run.ts';
