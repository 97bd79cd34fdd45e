export * from './types.ts';
export * from './data.ts';
export * from './classifier.ts';
export * from './loop.ts';
