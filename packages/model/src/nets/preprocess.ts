/**
 * Pixels (uint8 HWC, as in core image sets) → network input tensor: resized (bilinear) to the
 * input size, channels adapted (grey replicated to 3; RGB averaged to 1), scaled to [-1, 1]
 * (x / 127.5 − 1, MobileNetV2's preprocessing).
 */
import * as tf from '@tensorflow/tfjs-core';

export const PREPROCESSING = 'scale_-1_1' as const;

export interface PixelShape {
  height: number;
  width: number;
  channels: number;
}

export function imagesToTensor(
  pixels: Uint8Array,
  count: number,
  shape: PixelShape,
  target: { inputSize: number; inputChannels: number },
): tf.Tensor4D {
  const { height, width, channels } = shape;
  if (pixels.length !== count * height * width * channels) {
    throw new Error(`imagesToTensor: ${pixels.length} bytes for ${count} images of ${height}x${width}x${channels}`);
  }
  return tf.tidy(() => {
    let x: tf.Tensor4D = tf.cast(tf.tensor4d(pixels, [count, height, width, channels], 'int32'), 'float32');
    if (height !== target.inputSize || width !== target.inputSize) {
      x = tf.image.resizeBilinear(x, [target.inputSize, target.inputSize], false, true);
    }
    if (channels !== target.inputChannels) {
      if (channels === 1) x = tf.tile(x, [1, 1, 1, target.inputChannels]);
      else if (target.inputChannels === 1) x = tf.mean(x, 3, true);
      else throw new Error(`imagesToTensor: cannot map ${channels} channels to ${target.inputChannels}`);
    }
    return tf.sub(tf.div(x, 127.5), 1);
  });
}
