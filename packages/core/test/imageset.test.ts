import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageSetWriter, openImageSet, readArray, writeArray } from '../src/index.ts';

describe('image sets', () => {
  it('round-trips pixels and records across several shards', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'set-'));
    const shape = { height: 4, width: 5, channels: 3, classes: ['a', 'b'] };
    const w = await ImageSetWriter.create(dir, shape, { maxShardBytes: 4 * 60 });
    for (let i = 0; i < 10; i++) {
      const px = new Uint8Array(60).fill(i * 10);
      px[0] = i;
      await w.add(px, { id: `img${i}`, label: i % 2 ? 'b' : 'a', split: 'train', source: 's', path: `p${i}.png` });
    }
    const header = await w.close();
    expect(header.shards.length).toBe(3);
    expect(readdirSync(dir).filter((f) => f.endsWith('.bin'))).toHaveLength(3);
    const set = await openImageSet(dir);
    expect(set.records.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => `img${i}`));
    for (let i = 0; i < 10; i++) {
      const px = set.get(i);
      expect(px[0]).toBe(i);
      expect(px[59]).toBe(i * 10);
    }
    const b = set.batch([9, 4]);
    expect([b[0], b[60]]).toEqual([9, 4]);
    expect(set.indicesWhere((r) => r.label === 'b')).toEqual([1, 3, 5, 7, 9]);
    set.close();
  });

  it('rejects wrong sizes and unknown labels', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'set-'));
    const w = await ImageSetWriter.create(dir, { height: 2, width: 2, channels: 1, classes: ['a'] });
    await expect(w.add(new Uint8Array(3), { id: 'x', label: 'a', split: 'val', source: 's', path: 'x' })).rejects.toThrow(/expected 2x2x1/);
    await expect(w.add(new Uint8Array(4), { id: 'x', label: 'z', split: 'val', source: 's', path: 'x' })).rejects.toThrow(/not one of/);
    await expect(openImageSet(path.join(dir, 'nope'))).rejects.toThrow(/not an image set/);
  });

  it('round-trips typed arrays', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'arr-')), 'a.arr');
    const data = Float32Array.from({ length: 12 }, (_, i) => i / 3);
    await writeArray(file, data, [3, 4]);
    const back = await readArray(file);
    expect(back.shape).toEqual([3, 4]);
    expect(back.dtype).toBe('float32');
    expect(Array.from(back.data)).toEqual(Array.from(data));
    await expect(writeArray(file, data, [5, 5])).rejects.toThrow(/holds 25/);
  });
});
