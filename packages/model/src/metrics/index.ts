export * from './classification.ts';
export * from './bootstrap.ts';
export * from './calibration.ts';
