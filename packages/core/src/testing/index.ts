/** Helpers for the test suite and its setup step (`@mri-robust/core/testing`); never imported by src. */
export {
  CHROMIUM_ARGS,
  SYSTEM_BROWSERS,
  chromiumHelp,
  chromiumLaunchOptions,
  ensureChromium,
  findChromium,
  playwrightChromiums,
  type BrowserSearch,
  type EnsureOptions,
} from './browser.ts';
