import { open, readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

type ArrayDType = 'float32' | 'uint8' | 'int32';
export type TypedArray = Float32Array | Uint8Array | Int32Array;

export interface ArrayData {
  data: TypedArray;
  shape: number[];
  dtype: ArrayDType;
}

const MAGIC = 'MRIARR1';

function dtypeOf(data: TypedArray): ArrayDType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

/** One JSON header line (`MRIARR1 {...}\n`, padded to a multiple of 8 bytes) then the raw little-endian values. */
export async function writeArray(file: string, data: TypedArray, shape: number[]): Promise<void> {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`writeArray ${file}: shape [${shape}] holds ${n} values, data has ${data.length}`);
  let head = `${MAGIC} ${JSON.stringify({ dtype: dtypeOf(data), shape })}`;
  head = `${head.padEnd(Math.ceil((head.length + 1) / 8) * 8 - 1, ' ')}\n`;
  await mkdir(path.dirname(file), { recursive: true });
  const fh = await open(file, 'w');
  try {
    await fh.write(head);
    await fh.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } finally {
    await fh.close();
  }
}

export async function readArray(file: string): Promise<ArrayData> {
  const buf = await readFile(file);
  const nl = buf.indexOf(10);
  const head = buf.subarray(0, nl).toString('utf8');
  if (!head.startsWith(MAGIC)) throw new Error(`${file} is not an array file`);
  const { dtype, shape } = JSON.parse(head.slice(MAGIC.length + 1)) as { dtype: ArrayDType; shape: number[] };
  const start = nl + 1;
  const bytes = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length);
  const data = dtype === 'float32' ? new Float32Array(bytes) : dtype === 'int32' ? new Int32Array(bytes) : new Uint8Array(bytes);
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`${file}: expected ${n} values for shape [${shape}], found ${data.length}`);
  return { data, shape, dtype };
}
