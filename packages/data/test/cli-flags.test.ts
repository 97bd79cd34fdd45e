import path from 'node:path';
import { describeStrictCliFlags } from '@mri-robust/core/testing';

describeStrictCliFlags('data', path.join(import.meta.dirname, '..', 'src', 'cli.ts'), 'ingest', '--experiment, --nx-output');
