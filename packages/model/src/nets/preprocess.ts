/**
 * Pixels (uint8 HWC, as in core image sets) → network input tensor: resized (bilinear) to the
 * input size, channels adapted (grey replicated to 3; RGB averaged to 1), scaled as the backbone
 * expects (`target.scaling`, default [-1, 1] = x / 127.5 − 1, MobileNetV2's preprocessing):
 *   'scale_-1_1'     x / 127.5 − 1 (Keras mode 'tf': MobileNet v1/v2, InceptionV3)
 *   'caffe_bgr_mean' RGB → BGR, minus the ImageNet mean [103.939, 116.779, 123.68] (Keras mode
 *                    'caffe': VGG16, ResNet50); grey images become three equal channels first
 *   'raw_0_255'      unchanged [0, 255] floats (EfficientNet: its own rescaling/normalisation layers)
 */
import * as tf from '@tensorflow/tfjs-core';
import { denoisePixels, type Denoise } from './denoise.ts';

export const PREPROCESSING = 'scale_-1_1' as const;

/** Pixel scaling applied before a backbone (what Keras's `preprocess_input` does for it). */
export type PixelScaling = 'scale_-1_1' | 'caffe_bgr_mean' | 'raw_0_255';
export const PIXEL_SCALINGS: readonly PixelScaling[] = ['scale_-1_1', 'caffe_bgr_mean', 'raw_0_255'];
/** `scaling` as recorded (metadata.json, embed.json) checked to be a known PixelScaling. */
export function pixelScalingOf(scaling: string, where = 'model preprocessing'): PixelScaling {
  if ((PIXEL_SCALINGS as readonly string[]).includes(scaling)) return scaling as PixelScaling;
  throw new Error(`${where}: pixel scaling '${scaling}' is not one of ${PIXEL_SCALINGS.join(', ')}`);
}

/** Keras's caffe-mode ImageNet mean, in BGR order. */
export const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;

/** Scale float pixels [N, h, w, c] in [0, 255] as `scaling` says (caffe needs c = 3). */
function scalePixels(x: tf.Tensor4D, scaling: PixelScaling): tf.Tensor4D {
  return tf.tidy(() => {
    if (scaling === 'scale_-1_1') return tf.sub(tf.div(x, 127.5), 1);
    if (scaling === 'raw_0_255') return tf.clone(x);
    if (x.shape[3] !== 3) throw new Error(`caffe_bgr_mean preprocessing needs 3 channels, got ${x.shape[3]}`);
    return tf.sub(tf.reverse(x, 3), tf.tensor1d([...CAFFE_MEAN_BGR]));
  });
}

export interface PixelShape {
  height: number;
  width: number;
  channels: number;
}

export function imagesToTensor(
  pixels: Uint8Array,
  count: number,
  shape: PixelShape,
  target: { inputSize: number; inputChannels: number; scaling?: PixelScaling; denoise?: Denoise | null },
): tf.Tensor4D {
  const { height, width, channels } = shape;
  if (pixels.length !== count * height * width * channels) {
    throw new Error(`imagesToTensor: ${pixels.length} bytes for ${count} images of ${height}x${width}x${channels}`);
  }
  if (target.denoise) pixels = denoisePixels(pixels, count, shape, target.denoise);
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
    return scalePixels(x, target.scaling ?? PREPROCESSING);
  });
}
