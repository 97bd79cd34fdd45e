#!/usr/bin/env bash
# Manual check (root, Linux): does `npm test`'s setup step provide the browser on a machine without
# one? Runs in a throwaway copy-on-write view of this machine (overlayfs over /, in a private mount
# namespace; every write goes to a temp folder, the real system is untouched), where Debian's
# chromium is purged first; then runs `npm run pretest` and launches the browser it reports through
# playwright-core with chromiumLaunchOptions().
#   scripts/check-fresh-chromium.sh            apt works: pretest must install chromium, exit 0
#   scripts/check-fresh-chromium.sh --offline  no network, no cached .deb: pretest must exit 1 with
#                                              the command to run, and the launch must throw it
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root (needs mount namespaces and chroot)" >&2; exit 2; }
repo="$(cd "$(dirname "$0")/.." && pwd)"
net=""; offline=0
if [ "${1:-}" = "--offline" ]; then net="-n"; offline=1; fi
base="$(mktemp -d /tmp/fresh-chromium.XXXXXX)"
trap 'rm -rf "$base"' EXIT
mkdir -p "$base/upper" "$base/work" "$base/merged"
unshare -m $net --propagation private bash -s "$base" "$repo" "$offline" <<'INNER'
set -euo pipefail
base=$1; repo=$2; offline=$3; m=$base/merged
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$m"
for d in proc dev sys; do mount --rbind /$d "$m/$d"; done
chroot "$m" bash -s "$repo" "$offline" <<'CHROOT'
set -uo pipefail
repo=$1; offline=$2
cd "$repo"
[ "$offline" = 1 ] && rm -f /var/cache/apt/archives/*.deb
dpkg --purge --force-depends chromium >/dev/null 2>&1 || true
echo "before: /usr/bin/chromium $( [ -e /usr/bin/chromium ] && echo present || echo absent )"
npm run --silent pretest; rc=$?
echo "pretest exit code: $rc"
node --import tsx -e "
const { chromiumLaunchOptions } = await import('@mri-robust/core/testing');
const { chromium } = await import('playwright-core');
try {
  const b = await chromium.launch(chromiumLaunchOptions());
  const p = await b.newPage(); await p.setContent('<h1>ok</h1>');
  console.log('launched', b.version(), await p.textContent('h1')); await b.close();
} catch (e) { console.log('launch failed: ' + e.message.split('\n')[0]); process.exitCode = 1; }
" --input-type=module
CHROOT
INNER
