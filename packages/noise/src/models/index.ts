export * from './types.ts';
export * from './registry.ts';
