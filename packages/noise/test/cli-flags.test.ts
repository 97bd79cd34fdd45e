import path from 'node:path';
import { describeStrictCliFlags } from '@mri-robust/core/testing';

describeStrictCliFlags('noise', path.join(import.meta.dirname, '..', 'src', 'cli.ts'), 'apply', '--experiment, --nx-output, --workers');
