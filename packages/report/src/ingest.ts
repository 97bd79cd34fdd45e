/**
 * The ingest stage's report.json rendered for readers: sources, images per split and class,
 * duplicates removed, skipped files. Falls back to a generic rendering for any other shape.
 */
import type { IngestReport } from '@mri-robust/data';
import { esc, renderJson } from './html.ts';

const SPLITS = ['train', 'val', 'test'] as const;

export function isIngestReport(v: unknown): v is IngestReport {
  const r = v as Partial<IngestReport> | null;
  return !!r && typeof r === 'object' && r.stage === 'ingest' && !!r.counts && !!r.totals && Array.isArray(r.classes) && !!r.duplicates;
}

function n(v: unknown): string {
  return typeof v === 'number' ? esc(v.toLocaleString('en-US')) : '<span class="muted">—</span>';
}

/** Classes as rows, splits as columns, with totals. */
function countsTable(counts: IngestReport['counts'], classes: readonly string[]): string {
  const colTotal: Record<string, number> = {};
  let all = 0;
  const rows = classes.map((c) => {
    let rowTotal = 0;
    const cells = SPLITS.map((s) => {
      const v = counts[s]?.[c] ?? 0;
      rowTotal += v;
      colTotal[s] = (colTotal[s] ?? 0) + v;
      return `<td class="num">${n(v)}</td>`;
    }).join('');
    all += rowTotal;
    return `<tr><th>${esc(c)}</th>${cells}<td class="num"><b>${n(rowTotal)}</b></td></tr>`;
  });
  const foot = `<tr><th>total</th>${SPLITS.map((s) => `<td class="num"><b>${n(colTotal[s] ?? 0)}</b></td>`).join('')}<td class="num"><b>${n(all)}</b></td></tr>`;
  return `<table class="counts"><thead><tr><th>class</th>${SPLITS.map((s) => `<th>${s}</th>`).join('')}<th>total</th></tr></thead><tbody>${rows.join('')}${foot}</tbody></table>`;
}

function renderIngestReport(r: IngestReport): string {
  const d = r.duplicates;
  const parts: string[] = [];
  if (r.synthetic?.length) {
    parts.push(
      `<p class="warn"><b>Synthetic data:</b> source${r.synthetic.length === 1 ? '' : 's'} ${esc(r.synthetic.join(', '))} ${r.synthetic.length === 1 ? 'is' : 'are'} generated phantoms, not real MRI.</p>`,
    );
  }
  if (r.note) parts.push(`<p>${esc(r.note)}</p>`);
  parts.push(
    `<p>${n(r.totals.kept)} images kept of ${n(r.totals.files)} files (${n(r.totals.decoded)} decoded, ${n(r.totals.skipped)} skipped, ${n(r.totals.dropped)} dropped as duplicates or label conflicts); images ${esc(r.image?.size)}×${esc(r.image?.size)}×${esc(r.image?.channels)}, fit ${esc(r.image?.fit)}; split ${esc(r.split?.mode)} ${esc(r.split?.train)}/${esc(r.split?.val)}/${esc(r.split?.test)}, seed ${esc(r.split?.seed)}.</p>`,
  );
  parts.push('<h4>Sources</h4>');
  parts.push(
    `<table><thead><tr><th>source</th><th>kind</th><th>folder</th><th>layout</th><th>files</th><th>decoded</th><th>skipped</th><th>kept</th></tr></thead><tbody>${(
      r.sources ?? []
    )
      .map((s) => {
        const kept = SPLITS.reduce((a, sp) => a + Object.values(s.kept?.[sp] ?? {}).reduce((x, y) => x + y, 0), 0);
        return `<tr><td>${esc(s.name)}${s.synthetic ? ' <b>(synthetic)</b>' : ''}</td><td>${esc(s.kind)}</td><td><code>${esc(s.root)}</code></td><td>${esc(s.layout)}</td><td class="num">${n(s.files)}</td><td class="num">${n(s.decoded)}</td><td class="num">${n(s.skipped)}</td><td class="num">${n(kept)}</td></tr>`;
      })
      .join('')}</tbody></table>`,
  );
  parts.push('<h4>Images per split and class (after de-duplication)</h4>', countsTable(r.counts, r.classes));
  parts.push('<h4>Duplicates</h4>');
  parts.push(
    `<table class="kv">
<tr><th>removed as copies</th><td>${n(d.removedAsCopies)}</td></tr>
<tr><th>exact copies</th><td>${n(d.exact?.groups)} groups of identical pixels holding ${n(d.exact?.copies)} files (${n(d.exact?.extraCopies)} extra copies, ${n(d.exact?.crossSourceGroups)} across sources, ${n(d.exact?.labelConflicts)} with conflicting labels)</td></tr>
<tr><th>near duplicates</th><td>${n(d.near?.links)} links (${n(d.near?.rejectedByCorrelation)} hash matches rejected by the correlation check); ${n(d.near?.groupsWithNearLinks)} groups with near links</td></tr>
<tr><th>groups</th><td>${n(d.groups)} groups holding ${n(d.imagesInGroups)} images; largest ${n(d.largestGroup)}; ${n(d.crossSourceGroups)} span sources; ${n(d.touchingTestGroups)} touch a Testing folder</td></tr>
<tr><th>label conflicts</th><td>${n(d.conflicts?.groups)} groups, rule "${esc(d.conflicts?.rule)}": ${n(d.conflicts?.imagesDropped)} images dropped, ${n(d.conflicts?.groupsKeptByMajority)} kept by majority</td></tr>
<tr><th>settings</th><td>${renderJson(d.settings, 3)}</td></tr>
</table>`,
  );
  const skipped = r.skipped ?? [];
  parts.push(
    `<h4>Skipped files (${n(skipped.length)})</h4>${skipped.length ? `<details><summary>show</summary>${renderJson(skipped)}</details>` : '<p class="muted">none</p>'}`,
  );
  return parts.join('\n');
}

/** The ingest report section body: the structured view when the shape is known, else generic. */
export function renderIngest(report: unknown): string {
  if (isIngestReport(report)) {
    return `${renderIngestReport(report)}<details><summary>full report.json</summary>${renderJson(report)}</details>`;
  }
  return renderJson(report);
}
