/**
 * The predict page: one self-contained HTML document (inline CSS and JS, no CDN, no external
 * asset). Choose or drop a JPG/PNG/DICOM → POST /predict (multipart, field `image`) → the predicted
 * class, a plain-SVG bar chart of the calibrated probabilities and the class-activation overlay.
 * Above the upload: where the model comes from (experiment, sweep and trial, data sources, clean and
 * mean-noisy test accuracy with CIs) and, for a model trained on synthetic phantoms, a red banner.
 */
import { createHash } from 'node:crypto';
import { formatAccuracy, formatSource, SYNTHETIC_WARNING, type ModelProvenance } from '@mri-robust/model';
import type { EnsembleMemberInfo } from './server.ts';

export interface PageInfo {
  title: string;
  classes: string[];
  maxUploadBytes: number;
  /** Short description of the model (backbone, trial, temperature). */
  model: string;
  /** Where the model comes from (metadata.json); absent for handlers that do not say. */
  provenance?: ModelProvenance;
  /** An ensemble's members and how their probabilities are combined. */
  members?: EnsembleMemberInfo[];
  combination?: string;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1c2430; background: #f5f6f8; }
body { max-width: 980px; margin: 0 auto; padding: 1.2rem; }
[hidden] { display: none !important; }
h1 { font-size: 1.35rem; margin: 0 0 .2rem; }
.sub { color: #5b6675; font-size: .9rem; margin-bottom: 1rem; }
#drop { display: block; border: 2px dashed #8a96a8; border-radius: 10px; padding: 1.4rem; text-align: center; background: #fff; cursor: pointer; }
#drop.over { border-color: #2f6fed; background: #eef3ff; }
#drop input { display: block; margin: .6rem auto 0; }
.row { display: flex; gap: 1.2rem; flex-wrap: wrap; margin-top: 1.2rem; }
.card { background: #fff; border-radius: 10px; padding: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); flex: 1 1 250px; min-width: 0; }
#probs { display: block; width: 100%; max-width: 308px; height: auto; }
.card h2 { font-size: 1rem; margin: 0 0 .6rem; color: #3b4656; }
.card img { width: 100%; max-width: 320px; image-rendering: auto; border-radius: 6px; display: block; }
#pred-class { font-size: 1.6rem; font-weight: 700; }
#pred-conf { color: #5b6675; }
#error { color: #a11; font-weight: 600; margin-top: .8rem; min-height: 1.2em; }
#synthetic-banner { background: #c62828; color: #fff; font-weight: 700; padding: .7rem 1rem; border-radius: 8px; margin: .4rem 0 .8rem; font-size: 1.05rem; }
#provenance { background: #fff; border-radius: 10px; padding: .6rem 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); margin-bottom: 1rem; }
#provenance table { border-collapse: collapse; font-size: .88rem; }
#provenance th { text-align: left; color: #5b6675; font-weight: 600; padding: .15rem 1rem .15rem 0; vertical-align: top; white-space: nowrap; }
#provenance td { padding: .15rem 0; overflow-wrap: anywhere; }
#provenance .missing { color: #8a5a00; }
#ensemble { background: #fff; border-radius: 10px; padding: .6rem 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); margin-bottom: 1rem; font-size: .88rem; }
#ensemble h2 { font-size: 1rem; margin: 0 0 .3rem; color: #3b4656; }
#ensemble table { border-collapse: collapse; margin-top: .4rem; }
#ensemble th, #ensemble td { text-align: left; padding: .15rem .8rem .15rem 0; vertical-align: top; overflow-wrap: anywhere; }
#ensemble th { color: #5b6675; font-weight: 600; }
#status { color: #5b6675; margin-top: .5rem; min-height: 1.2em; }
.note { color: #5b6675; font-size: .8rem; margin-top: .6rem; }
`;

const SCRIPT = `
(() => {
  const info = JSON.parse(document.getElementById('page-info').textContent);
  const drop = document.getElementById('drop');
  const input = document.getElementById('file');
  const err = document.getElementById('error');
  const status = document.getElementById('status');
  const results = document.getElementById('results');
  const svgNS = 'http://www.w3.org/2000/svg';

  function el(name, attrs, text) {
    const e = document.createElementNS(svgNS, name);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawBars(probs, predicted) {
    const svg = document.getElementById('probs');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const names = Object.keys(probs);
    const rowH = 30, labelW = 96, barW = 150, pad = 6;
    svg.setAttribute('viewBox', '0 0 ' + (labelW + barW + 62) + ' ' + (names.length * rowH + pad));
    svg.setAttribute('data-bar-width', String(barW));
    names.forEach((name, i) => {
      const p = probs[name];
      const y = i * rowH + pad;
      const g = el('g', { 'data-class': name, 'data-probability': p.toFixed(6) });
      g.appendChild(el('text', { x: labelW - 8, y: y + 17, 'text-anchor': 'end', 'font-size': 13, fill: '#1c2430' }, name));
      g.appendChild(el('rect', { x: labelW, y: y + 3, width: barW, height: 20, fill: '#e3e7ee', rx: 3 }));
      g.appendChild(el('rect', { class: 'bar', x: labelW, y: y + 3, width: Math.max(0, Math.min(1, p)) * barW, height: 20, rx: 3,
        fill: name === predicted ? '#2f6fed' : '#8fa6c8' }));
      g.appendChild(el('text', { x: labelW + barW + 8, y: y + 17, 'font-size': 13, fill: '#1c2430' }, (100 * p).toFixed(1) + ' %'));
      svg.appendChild(g);
    });
  }

  async function send(file) {
    err.textContent = '';
    if (!file) return;
    // DICOM files often have no extension: those are left to the server, which reads the signature.
    if (!/^(image\\/(jpeg|png)|application\\/dicom)$/.test(file.type) && !/\\.(jpe?g|png|dcm|dicom)$/i.test(file.name) && /\\.[A-Za-z0-9]{1,5}$/.test(file.name)) {
      err.textContent = 'Please choose a JPG, PNG or DICOM image.';
      return;
    }
    if (file.size > info.maxUploadBytes) {
      err.textContent = 'This file is larger than the limit of ' + (info.maxUploadBytes / 1048576).toFixed(1) + ' MB.';
      return;
    }
    status.textContent = 'Predicting…';
    const form = new FormData();
    form.append('image', file, file.name);
    try {
      const res = await fetch('predict', { method: 'POST', body: form });
      const body = await res.json().catch(() => ({ error: 'the server answered ' + res.status }));
      if (!res.ok) throw new Error(body.error || ('the server answered ' + res.status));
      document.getElementById('pred-class').textContent = body.class;
      document.getElementById('pred-conf').textContent = 'calibrated probability ' + (100 * body.probabilities[body.class]).toFixed(1) + ' %';
      drawBars(body.probabilities, body.class);
      document.getElementById('overlay').src = body.gradcam;
      document.getElementById('original').src = body.scan;
      if (body.gradcamLayer) document.getElementById('cam-note').textContent = 'Regions that raised the score of ' + (body.gradcamClass || body.class) +
        (body.ensemble ? ' for the first member of the ensemble' : '') + ' (red = most): ' +
        body.gradcamMethod + ' at ' + body.gradcamLayer + ' (' + body.gradcamGrid.join('×') + ' grid), inside the scan only, at its aspect ratio.';
      results.hidden = false;
      status.textContent = 'Done in ' + body.ms + ' ms.';
      document.body.dataset.state = 'done';
    } catch (e) {
      status.textContent = '';
      err.textContent = e.message;
      document.body.dataset.state = 'error';
    }
  }

  input.addEventListener('change', () => send(input.files[0]));
  drop.addEventListener('click', (e) => { if (e.target !== input) input.click(); });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer && e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
  });
})();
`;

export interface Page {
  html: string;
  /** Content-Security-Policy allowing exactly the inline script and style of this page. */
  csp: string;
}

const sha = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

/** The model's provenance block (and the red banner for synthetic training data). */
function provenanceHtml(p: ModelProvenance | undefined): string {
  if (!p) return '<div id="provenance" class="missing">Provenance: not given by this server.</div>';
  const missing = (v: string) => `<span class="missing">${esc(v)}</span>`;
  const rows: [string, string][] = [
    ['Experiment', esc(p.experiment)],
    ['Sweep / trial', p.sweep ? `${esc(p.sweep)} / ${esc(p.trial ?? '?')}` : missing('not from a sweep')],
    ['Training data', p.sources ? esc(p.sources.map(formatSource).join(', ') || 'none listed') : missing('not recorded in metadata.json')],
    ['Clean test accuracy', p.clean ? esc(formatAccuracy(p.clean)) : missing('not recorded')],
    [
      'Mean noisy test accuracy',
      p.meanNoisy
        ? esc(`${formatAccuracy(p.meanNoisy)}, mean of ${p.meanNoisy.sets} noisy test sets`)
        : missing(p.clean ? 'no noisy test sets' : 'not recorded'),
    ],
    ['Network', esc(p.backbone)],
  ];
  const banner = p.synthetic
    ? `<div id="synthetic-banner" role="alert">⚠ This model was ${esc(SYNTHETIC_WARNING)}: it has never seen a real MRI, so its answers and maps on a real scan mean nothing.</div>\n`
    : '';
  return `${banner}<div id="provenance" data-synthetic="${p.synthetic}"><table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table></div>`;
}

/** The members of an ensemble served as one model (empty for a single model). */
function membersHtml(members: EnsembleMemberInfo[] | undefined, combination: string | undefined): string {
  if (!members || members.length < 2) return '';
  const rows = members.map(
    (m, i) =>
      `<tr data-member="${i + 1}"><td>${i + 1}</td><td>${esc(m.dir)}</td><td>${esc(m.experiment)}</td><td>${m.sweep ? `${esc(m.sweep)} / ${esc(m.trial ?? '?')}` : 'not from a sweep'}</td>` +
      `<td>${esc(m.backbone)}</td><td>${m.temperature.toFixed(3)}</td><td>${m.cleanAccuracy ? esc(m.cleanAccuracy) : '<span class="missing">not recorded</span>'}</td></tr>`,
  );
  return (
    `<div id="ensemble"><h2>Ensemble of ${members.length} models</h2><div class="note">Answer: ${esc(combination ?? 'mean of the members’ probabilities')}; ` +
    `the provenance above and the class-activation map are the first member's.</div>` +
    `<table><tr><th>#</th><th>Model folder</th><th>Experiment</th><th>Sweep / trial</th><th>Network</th><th>T</th><th>Clean test accuracy</th></tr>${rows.join('')}</table></div>`
  );
}

export function renderPage(info: PageInfo): Page {
  // JSON in a <script type="application/json"> block: escape '<' so no '</script>' can close it.
  const infoJson = JSON.stringify(info).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(info.title)}</h1>
<div class="sub">Model: ${esc(info.model)} · classes: ${esc(info.classes.join(', '))}</div>
${provenanceHtml(info.provenance)}
${membersHtml(info.members, info.combination)}
<label id="drop" for="file">Drop a brain MRI slice here (JPG, PNG or uncompressed DICOM, up to ${(info.maxUploadBytes / 1048576).toFixed(1)} MB), or choose one:
<input id="file" type="file" accept="image/jpeg,image/png,application/dicom,.jpg,.jpeg,.png,.dcm,.dicom">
</label>
<div id="status" role="status"></div>
<div id="error" role="alert"></div>
<div id="results" class="row" hidden>
  <div class="card"><h2>Prediction</h2><div id="pred-class"></div><div id="pred-conf"></div>
    <svg id="probs" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="calibrated class probabilities"></svg>
    <div class="note">Probabilities are calibrated (temperature scaling fitted on validation data). Research prototype, not a medical device.</div></div>
  <div class="card"><h2>Class-activation map</h2><img id="overlay" alt="class-activation overlay of the predicted class">
    <div class="note" id="cam-note">Regions that raised the score of the predicted class (red = most), inside the scan only, at its aspect ratio.</div></div>
  <div class="card"><h2>Scan as decoded</h2><img id="original" alt="the uploaded scan as the model decoded it">
    <div class="note">What the model was given (DICOM rescaled and windowed), padding removed.</div></div>
</div>
<script id="page-info" type="application/json">${infoJson}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha(SCRIPT)}`,
    `style-src ${sha(STYLE)}`,
    'img-src data: blob:',
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}
