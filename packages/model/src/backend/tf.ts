/**
 * One namespace for the parts of TensorFlow.js this project uses: tfjs-core (ops, engine, io) plus
 * tfjs-layers (models, layers). There is no `@tensorflow/tfjs` umbrella package installed; this
 * object plays its role. Optional native backends (tfjs-node / tfjs-node-gpu) register themselves
 * into the same tfjs-core engine when imported, so this namespace stays valid for them too.
 */
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export type Tf = typeof tfc & typeof tfl;

export const tf: Tf = { ...tfc, ...tfl } as Tf;
