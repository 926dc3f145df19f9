// The browser's twin of fer_utils/detection.py's BlazeFace decoding: anchors, box decoding, weighted
// non-maximum suppression, and the mapping from the letterboxed square back to frame pixels.
import { roundHalfEven } from './preprocess.js';

/** detection.blazeface_anchors: anchor centres [x, y] in 0-1 units, one per cell of a grid x grid map. */
export function blazefaceAnchors(grid) {
  const anchors = [];
  for (let y = 0; y < grid; y++) for (let x = 0; x < grid; x++) anchors.push([(x + 0.5) / grid, (y + 0.5) / grid]);
  return anchors;
}

/** detection.decode_blazeface: the candidates {box: [x0, y0, x1, y1], score, keypoints: [[x, y] x 6]} (0-1 units
 * of the square input) whose sigmoid score is at least `minScore`. */
export function decodeBlazeface(regressors, logits, anchors, inputSize, minScore) {
  const found = [];
  for (let k = 0; k < anchors.length; k++) {
    const logit = Math.min(100, Math.max(-100, logits[k]));
    const score = Math.fround(1 / (1 + Math.exp(-logit)));
    if (score < minScore) continue;
    const r = (i) => Math.fround(regressors[k * 16 + i] / inputSize);
    const [ax, ay] = anchors[k];
    const cx = r(0) + ax, cy = r(1) + ay, w = r(2), h = r(3);
    const keypoints = [];
    for (let p = 0; p < 6; p++) keypoints.push([r(4 + 2 * p) + ax, r(5 + 2 * p) + ay]);
    found.push({ box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], score, keypoints });
  }
  return found;
}

/** detection.box_iou for two [x0, y0, x1, y1] boxes. */
export function boxIou(a, b) {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih, area = (v) => (v[2] - v[0]) * (v[3] - v[1]);
  return inter / Math.max(area(a) + area(b) - inter, 1e-9);
}

/** detection.weighted_nms: the best-scoring candidate and every one overlapping it by more than `iou` merge into one,
 * their coordinates averaged with the scores as weights (stable order for equal scores, as NumPy's argsort). */
export function weightedNms(candidates, iou) {
  let remaining = candidates.map((c, i) => [c, i]).sort((a, b) => b[0].score - a[0].score || a[1] - b[1]).map((p) => p[0]);
  const merged = [];
  while (remaining.length) {
    const top = remaining[0];
    const group = remaining.filter((c) => boxIou(top.box, c.box) > iou);
    remaining = remaining.filter((c) => !(boxIou(top.box, c.box) > iou));
    const total = group.reduce((s, c) => s + c.score, 0);
    const box = [0, 1, 2, 3].map((i) => group.reduce((s, c) => s + c.box[i] * c.score, 0) / total);
    const keypoints = top.keypoints.map((_, p) => [0, 1].map((i) => group.reduce((s, c) => s + c.keypoints[p][i] * c.score, 0) / total));
    merged.push({ box, score: top.score, keypoints });
  }
  return merged;
}

/** CnnFaceDetector.detect_faces's last step: merged detections to frame-pixel faces {box: [x, y, w, h] (integers),
 * score, keypoints}, narrower than `minSize` dropped, largest first. */
export function toFrameFaces(merged, inputSize, scale, padX, padY, minSize) {
  const toFrame = (v, pad) => (v * inputSize - pad) / scale;
  const faces = [];
  for (const m of merged) {
    const x0 = toFrame(m.box[0], padX), y0 = toFrame(m.box[1], padY), x1 = toFrame(m.box[2], padX), y1 = toFrame(m.box[3], padY);
    const w = x1 - x0;
    if (w < minSize) continue;
    faces.push({
      box: [roundHalfEven(x0), roundHalfEven(y0), roundHalfEven(w), roundHalfEven(y1 - y0)],
      score: m.score,
      keypoints: m.keypoints.map(([x, y]) => [toFrame(x, padX), toFrame(y, padY)]),
    });
  }
  return faces.sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
}
