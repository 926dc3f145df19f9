// The browser's twin of fer_utils/pipeline.py's EmotionDetector: BlazeFace and the emotion model on LiteRT.js
// (single-threaded WebAssembly: Streamlit sends no COOP/COEP headers, which threads need), the same
// preprocessing, and for video the same one-view-per-frame cycle, face matching and smoothing.
import { loadAndCompile, loadLiteRt, Tensor } from '@litertjs/core';
import { blazefaceAnchors, decodeBlazeface, toFrameFaces, weightedNms } from './blazeface.js';
import { cropAligned, letterbox, ttaView, ttaViews } from './preprocess.js';

// CnnFaceDetector's input for each grey level, in float32 as NumPy computes it: grey / 127.5 - 1 (in [-1, 1])
const DETECTOR_INPUT = Float32Array.from({ length: 256 }, (_, v) => Math.fround(Math.fround(v / 127.5) - 1));

/** pipeline.iou for two [x, y, w, h] boxes. */
export function iou(a, b) {
  const iw = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  return (iw * ih) / Math.max(a[2] * a[3] + b[2] * b[3] - iw * ih, 1e-9);
}

async function runModel(model, input, shape) {
  const tensor = new Tensor(input, shape);
  const outputs = await model.run(tensor);
  tensor.delete();
  const arrays = [];
  for (const out of outputs) {
    arrays.push(Float32Array.from(await out.data()));
    out.delete();
  }
  return arrays;
}

export class FerPipeline {
  /** Load LiteRT.js's WebAssembly from `base`/wasm/ and the two models from `base`/models/ (all served with the
   * component: nothing from the internet). `constants`: fer_constants.json, generated from the Python modules. */
  static async load(base, constants) {
    await loadLiteRt(new URL('wasm/', base).href);
    const fetchModel = async (name) => {
      const response = await fetch(new URL(`models/${name}`, base));
      if (!response.ok) throw new Error(`could not load the model ${name} (HTTP ${response.status})`);
      return new Uint8Array(await response.arrayBuffer());
    };
    const [detector, classifier] = await Promise.all([
      loadAndCompile(await fetchModel('face_detection_full_range.tflite'), { accelerator: 'wasm' }),
      loadAndCompile(await fetchModel('fer_vgg_bn_b1.tflite'), { accelerator: 'wasm' }),
    ]);
    return new FerPipeline(detector, classifier, constants);
  }

  constructor(detector, classifier, constants) {
    this.detector = detector;
    this.classifier = classifier;
    this.c = constants;
    const d = constants.detector;
    this.anchors = blazefaceAnchors(d.input_size / d.anchor_stride);
    this.minSize = d.min_size;
    this.detectEvery = constants.video.detect_every;
    this.smoothing = 0;
    this.reset();
  }

  /** Forget the previous frames (a new video, or the camera restarted). */
  reset() {
    this.previous = [];
    this.viewsSeen = [];
    this.frames = 0; // frames with a face: which test-time view comes next
    this.frameIndex = 0; // every frame: which ones run the detector
    this.faces = [];
  }

  /** (A) CnnFaceDetector.detect_faces: every face of a grey frame {box, score, keypoints}, largest first. */
  async detectFaces(gray) {
    const d = this.c.detector, size = d.input_size;
    const { square, scale, padX, padY } = letterbox(gray, size);
    const input = new Float32Array(size * size * 3);
    for (let i = 0; i < square.data.length; i++) {
      const v = DETECTOR_INPUT[square.data[i]];
      input[3 * i] = v;
      input[3 * i + 1] = v;
      input[3 * i + 2] = v;
    }
    const outputs = await runModel(this.detector, input, [1, size, size, 3]);
    const [regressors, logits] = outputs.sort((a, b) => b.length - a.length);
    const candidates = decodeBlazeface(regressors, logits, this.anchors, size, d.min_score);
    return toFrameFaces(weightedNms(candidates, d.nms_iou), size, scale, padX, padY, this.minSize);
  }

  /** (C) The model's probabilities (7) for each of `views` (float32 48x48 faces, 0-255), averaged. */
  async classifyViews(views) {
    const n = this.c.face_size, sum = new Float64Array(this.c.emotions.length);
    for (const view of views) {
      const [p] = await runModel(this.classifier, view, [1, n, n, 1]);
      p.forEach((v, i) => { sum[i] += v; });
    }
    return Array.from(sum, (v) => v / views.length);
  }

  /** The crops crop_aligned makes for `faces`. */
  crops(gray, faces) {
    return faces.map((f) => cropAligned(gray, f, this.c.face_size, this.c.crop.expand, this.c.crop.align));
  }

  /** A photo (EmotionDetector() with tta=True): each face's probabilities, the mean over the 4 test-time views. */
  async analysePhoto(gray) {
    const faces = await this.detectFaces(gray);
    const crops = this.crops(gray, faces);
    const results = [];
    for (let k = 0; k < faces.length; k++) {
      results.push(this.result(faces[k], await this.classifyViews(ttaViews(crops[k], this.c.tta.zoom))));
    }
    return results;
  }

  /** One video frame (EmotionDetector.for_video()): the detector on every `detect_every`-th frame (the frames between
   * reuse its faces), one test-time view per frame in turn, each face averaged over its last 4 frames (matched by
   * box overlap) and smoothed with its previous probabilities by `this.smoothing`. */
  async analyseVideoFrame(gray) {
    const started = performance.now();
    if (this.frameIndex % this.detectEvery === 0) this.faces = await this.detectFaces(gray);
    this.frameIndex += 1;
    const faces = this.faces;
    const detected = performance.now();
    const crops = this.crops(gray, faces);
    const cycle = this.c.video.cycle_views;
    const view = this.frames % cycle;
    if (faces.length) this.frames += 1; // as EmotionDetector.classify, called only for a frame with faces
    const results = [], viewsSeen = [];
    for (let k = 0; k < faces.length; k++) {
      const raw = await this.classifyViews([ttaView(crops[k], this.c.tta.zoom, view)]);
      const j = this.match(faces[k].box);
      const seen = j === null ? [raw] : [...this.viewsSeen[j].slice(-(cycle - 1)), raw];
      viewsSeen.push(seen);
      let probs = raw.map((_, i) => seen.reduce((s, r) => s + r[i], 0) / seen.length);
      if (this.smoothing && j !== null) {
        const prev = this.previous[j].probs;
        probs = probs.map((p, i) => this.smoothing * prev[i] + (1 - this.smoothing) * p);
      }
      results.push(this.result(faces[k], probs));
    }
    this.previous = results;
    this.viewsSeen = viewsSeen;
    this.lastTimings = { detectMs: detected - started, classifyMs: performance.now() - detected };
    return results;
  }

  /** EmotionDetector._match: the previous frame's face overlapping `box` most (IoU above match_iou), or null. */
  match(box) {
    let best = null, bestIou = this.c.video.match_iou;
    this.previous.forEach((r, j) => {
      const v = iou(r.box, box);
      if (v > bestIou) { best = j; bestIou = v; }
    });
    return best;
  }

  result(face, probs) {
    const emotions = this.c.emotions;
    let top = 0;
    probs.forEach((p, i) => { if (p > probs[top]) top = i; });
    return { box: face.box, keypoints: face.keypoints, score: face.score, probs, emotion: emotions[top],
      probabilities: Object.fromEntries(emotions.map((e, i) => [e, probs[i]])) };
  }
}
