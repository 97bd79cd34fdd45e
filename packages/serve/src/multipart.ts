/**
 * A strict multipart/form-data parser (RFC 7578 / RFC 2046) over a body already bounded in size.
 * Pure; anything malformed throws MultipartError (the server answers 400). Part names and file
 * names are only reported, never used as paths.
 */

export class MultipartError extends Error {
  override readonly name = 'MultipartError';
}

export interface MultipartPart {
  /** `name` of Content-Disposition: form-data (null when absent). */
  name: string | null;
  /** `filename` parameter (null for a plain field). */
  filename: string | null;
  contentType: string | null;
  data: Buffer;
}

export interface MultipartLimits {
  /** Most parts accepted (default 8). */
  maxParts?: number;
  /** Most header bytes per part (default 4096). */
  maxHeaderBytes?: number;
}

const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$/;

/** The boundary of a `multipart/form-data; boundary=...` Content-Type. */
export function multipartBoundary(contentType: string): string {
  const [type, ...params] = contentType.split(';');
  if (type.trim().toLowerCase() !== 'multipart/form-data') throw new MultipartError(`Content-Type ${type.trim()} is not multipart/form-data`);
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    if (p.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"')) {
      if (!v.endsWith('"') || v.length < 2) throw new MultipartError('malformed multipart boundary (unbalanced quotes)');
      v = v.slice(1, -1);
    }
    if (!BOUNDARY_RE.test(v) || v.endsWith(' ')) throw new MultipartError('malformed multipart boundary (1 to 70 allowed characters)');
    return v;
  }
  throw new MultipartError('multipart/form-data without a boundary parameter');
}

/** Parameters of a header value like `form-data; name="image"; filename="a b.jpg"`. */
function headerParams(value: string): { type: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const re = /;\s*([A-Za-z0-9_*!#$&+.^`|~-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^;\s]*)/g;
  const rest = semi < 0 ? '' : value.slice(semi);
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    params[m[1].toLowerCase()] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2];
  }
  return { type, params };
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** Splits `body` into its parts. Throws MultipartError when the body is not well-formed. */
export function parseMultipart(body: Buffer, boundary: string, limits: MultipartLimits = {}): MultipartPart[] {
  const maxParts = limits.maxParts ?? 8;
  const maxHeader = limits.maxHeaderBytes ?? 4096;
  const dash = Buffer.from(`--${boundary}`);
  const delim = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter: at the very start, or after a preamble ending with CRLF.
  let pos: number;
  if (body.subarray(0, dash.length).equals(dash)) pos = dash.length;
  else {
    const i = body.indexOf(delim);
    if (i < 0) throw new MultipartError('malformed multipart body: boundary not found');
    pos = i + delim.length;
  }
  const parts: MultipartPart[] = [];
  for (;;) {
    // After a delimiter: "--" closes the body, otherwise optional whitespace then CRLF.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts;
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw new MultipartError('malformed multipart body: expected CRLF after a boundary');
    pos += 2;
    if (parts.length >= maxParts) throw new MultipartError(`multipart body has more than ${maxParts} parts`);
    const headEnd = body.indexOf(HEADER_END, pos);
    // A part with no header lines starts directly with the blank line.
    const emptyHeaders = body.subarray(pos, pos + 2).equals(CRLF);
    const hEnd = emptyHeaders ? pos : headEnd;
    if (hEnd < 0 || hEnd - pos > maxHeader) throw new MultipartError('malformed multipart body: part headers not terminated (or too long)');
    const headerText = body.subarray(pos, hEnd).toString('latin1');
    const dataStart = emptyHeaders ? pos + 2 : hEnd + 4;
    const next = body.indexOf(delim, dataStart);
    if (next < 0) throw new MultipartError('malformed multipart body: part not terminated by a boundary');
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MultipartError('malformed multipart body: bad part header line');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const cd = headers['content-disposition'];
    let name: string | null = null;
    let filename: string | null = null;
    if (cd !== undefined) {
      const { type, params } = headerParams(cd);
      if (type !== 'form-data') throw new MultipartError(`malformed multipart body: Content-Disposition '${type}' is not form-data`);
      name = params.name ?? null;
      filename = params.filename ?? null;
    }
    parts.push({ name, filename, contentType: headers['content-type'] ?? null, data: body.subarray(dataStart, next) });
    pos = next + delim.length;
  }
}
