import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { parseExperiment, ExperimentError } from '@mri-robust/core';
import { evaluateSchemaPart, modelSchemaPart, resolveModelSettings, resolveTrainSettings, resolveEvaluateSettings, trainSchemaPart } from '../src/schema.ts';

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true });
const validate = {
  model: ajv.compile(modelSchemaPart.schema),
  train: ajv.compile(trainSchemaPart.schema),
  evaluate: ajv.compile(evaluateSchemaPart.schema),
};

function errorsOf(section: keyof typeof validate, value: unknown): string[] {
  const v = validate[section];
  return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe('model package schema parts', () => {
  it('accepts a complete, realistic configuration', () => {
    expect(
      errorsOf('model', {
        backbone: 'mobilenet_v2',
        weights: '../../shared/weights/mobilenet_v2_0.35_224',
        input_size: 224,
        mode: 'partial',
        cut_layer: 'block_15_add',
        cnn: { widths: [16, 32] },
        backend: 'wasm',
        embed_batch_size: 32,
        denoise: 'wiener',
      }),
    ).toEqual([]);
    expect(
      errorsOf('train', {
        epochs: 20,
        learning_rate: 0.001,
        batch_size: 32,
        dropout: 0.3,
        early_stopping: { monitor: 'val_loss', patience: 4, restore_best: true },
        reduce_lr: { factor: 0.5, patience: 2, min_lr: 1e-5 },
        class_weights: 'balanced',
      }),
    ).toEqual([]);
    expect(errorsOf('evaluate', { bootstrap_samples: 500, ece_bins: 15 })).toEqual([]);
  });

  it.each([
    ['train', { learning_rate: 0 }, '/learning_rate'],
    ['train', { learning_rate: -0.1 }, '/learning_rate'],
    ['train', { dropout: 1 }, '/dropout'],
    ['train', { dropout: -0.1 }, '/dropout'],
    ['train', { batch_size: 0 }, '/batch_size'],
    ['train', { batch_size: 2.5 }, '/batch_size'],
    ['train', { reduce_lr: { factor: 1 } }, '/reduce_lr/factor'],
    ['train', { early_stopping: { monitor: 'accuracy' } }, '/early_stopping/monitor'],
    ['train', { class_weights: 'auto' }, '/class_weights'],
    ['train', { label_smoothing: 1 }, '/label_smoothing'],
    ['train', { label_smoothing: -0.1 }, '/label_smoothing'],
    ['train', { ema: 1 }, '/ema'],
    ['train', { ema: -0.5 }, '/ema'],
    ['train', { mixup: -1 }, '/mixup'],
    ['train', { consistency: -1 }, '/consistency'],
    ['train', { consistency: 101 }, '/consistency'],
    ['model', { mode: 'frozen' }, '/mode'],
    ['model', { backend: 'webgl' }, '/backend'],
    ['model', { cnn: { widths: [] } }, '/cnn/widths'],
    ['model', { denoise: 'median' }, '/denoise'],
    ['model', { denoise: true }, '/denoise'],
    ['evaluate', { ece_bins: 0 }, '/ece_bins'],
  ] as const)('rejects impossible %s values %j', (section, value, pointer) => {
    const errs = errorsOf(section, value);
    expect(errs.some((e) => e.startsWith(pointer))).toBe(true);
  });

  it('refuses consistency together with mixup, naming /consistency', () => {
    const check = trainSchemaPart.check!;
    expect(check(resolveTrainSettings({ train: { consistency: 1, mixup: 0.4 } })).map((i) => i.pointer)).toEqual(['/consistency']);
    expect(check(resolveTrainSettings({ train: { consistency: 1 } }))).toEqual([]);
  });

  it('rejects unknown keys everywhere', () => {
    expect(errorsOf('model', { backbon: 'cnn' }).join()).toMatch(/additional/);
    expect(errorsOf('train', { early_stopping: { patiance: 3 } }).join()).toMatch(/additional/);
    expect(errorsOf('evaluate', { bins: 3 }).join()).toMatch(/additional/);
  });

  it('describes every property', () => {
    const walk = (s: Record<string, unknown>, path: string): string[] => {
      const missing = typeof s.description === 'string' ? [] : [path];
      const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
      return missing.concat(...Object.entries(props).map(([k, v]) => walk(v, `${path}/${k}`)));
    };
    for (const p of [modelSchemaPart, trainSchemaPart, evaluateSchemaPart]) expect(walk(p.schema, p.section)).toEqual([]);
  });

  it('fills defaults for missing settings, keeping nested ones given', () => {
    const t = resolveTrainSettings({ train: { reduce_lr: { factor: 0.2 } } });
    expect(t.reduce_lr).toEqual({ factor: 0.2, patience: 3, min_lr: 1e-6 });
    expect(t.early_stopping.monitor).toBe('val_accuracy');
    expect(resolveModelSettings({}).mode).toBe('head');
    expect(resolveEvaluateSettings({ evaluate: { ece_bins: 10 } })).toEqual({ bootstrap_samples: 1000, ece_bins: 10 });
  });
});

describe('through the experiment loader', () => {
  const parts = [modelSchemaPart, trainSchemaPart, evaluateSchemaPart];
  it('fills every default into the validated config', () => {
    const e = parseExperiment('name: t\nseed: 3\nmodel: {mode: partial}\ntrain:\n  reduce_lr: {factor: 0.2}\n', 'x.yaml', parts);
    expect(e.config.model).toMatchObject({ mode: 'partial', backbone: 'mobilenet_v2', cnn: { widths: [16, 32, 64] } });
    expect((e.config.train as Record<string, unknown>).reduce_lr).toEqual({ factor: 0.2, patience: 3, min_lr: 1e-6 });
    expect((e.config.train as Record<string, unknown>).early_stopping).toMatchObject({ monitor: 'val_accuracy' });
    expect(e.config.evaluate).toEqual({ bootstrap_samples: 1000, ece_bins: 15 });
  });
  it('reports a bad value with its line and pointer', () => {
    try {
      parseExperiment('name: t\ntrain:\n  epochs: 3\n  learning_rate: 0\n', 'x.yaml', parts);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ExperimentError);
      const issue = (e as ExperimentError).issues[0];
      expect(issue).toMatchObject({ line: 4, pointer: '/train/learning_rate' });
      expect(issue.message).toMatch(/> 0/);
    }
  });
});
