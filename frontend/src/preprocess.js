// The browser's twin of the Python preprocessing (fer_utils/images.py to_gray, detection.py letterbox,
// pipeline.py crop_aligned, inference.py tta_views): the same OpenCV operations, written out so that the
// same frame gives the same pixels. tests/test_browser_live.py compares them with OpenCV in Chromium.
// Images are {data, width, height}: data a Uint8Array (grey) or Float32Array (one channel), row after row.

/** Round half to even, as OpenCV's cvRound and Python's round(). */
export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clampByte = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Grey uint8 from RGBA bytes (a canvas's ImageData): OpenCV 4.x fixed-point RGB2GRAY (0.299 R + 0.587 G + 0.114 B in 15 bits). */
export function rgbaToGray(rgba, width, height) {
  const out = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < out.length; i++, j += 4) {
    out[i] = (rgba[j] * 9798 + rgba[j + 1] * 19235 + rgba[j + 2] * 3735 + 16384) >> 15;
  }
  return { data: out, width, height };
}

const tables = new Map(); // per axis size: a camera's frames all have one size

/** OpenCV's table of source pixels and weights for one axis of an INTER_AREA shrink by `scale` (> 1). */
function areaTable(srcSize, dstSize, scale) {
  const key = `${srcSize}>${dstSize}`;
  if (tables.has(key)) return tables.get(key);
  const table = [];
  for (let dx = 0; dx < dstSize; dx++) {
    const fsx1 = dx * scale, fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, srcSize - fsx1);
    let sx2 = Math.min(Math.floor(fsx2), srcSize - 1);
    const sx1 = Math.min(Math.ceil(fsx1), sx2);
    const taps = [];
    if (sx1 - fsx1 > 1e-3) taps.push([sx1 - 1, (sx1 - fsx1) / cellWidth]);
    for (let sx = sx1; sx < sx2; sx++) taps.push([sx, 1 / cellWidth]);
    if (fsx2 - sx2 > 1e-3) taps.push([sx2, Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth]);
    table.push(taps);
  }
  if (tables.size > 16) tables.clear();
  tables.set(key, table);
  return table;
}

/** cv2.resize(..., INTER_AREA) of a grey uint8 image to a smaller size: each output pixel is the mean of the
 * input area it covers (whole-number ratios: OpenCV's fast path, the plain mean rounded half up). */
export function resizeArea(img, dstW, dstH) {
  const { data, width, height } = img;
  const sx = width / dstW, sy = height / dstH;
  const out = new Uint8Array(dstW * dstH);
  if (Number.isInteger(sx) && Number.isInteger(sy)) {
    const area = sx * sy;
    for (let y = 0; y < dstH; y++) {
      for (let x = 0; x < dstW; x++) {
        let sum = 0;
        for (let j = 0; j < sy; j++) {
          const row = (y * sy + j) * width + x * sx;
          for (let i = 0; i < sx; i++) sum += data[row + i];
        }
        out[y * dstW + x] = Math.floor((sum + (area >> 1)) / area);
      }
    }
    return { data: out, width: dstW, height: dstH };
  }
  // OpenCV's order of sums: each source row's horizontal taps, then the weighted rows (float32 throughout)
  const xt = areaTable(width, dstW, sx), yt = areaTable(height, dstH, sy);
  const offsets = new Int32Array(dstW + 1);
  xt.forEach((taps, x) => { offsets[x + 1] = offsets[x] + taps.length; });
  const tapIndex = new Int32Array(offsets[dstW]), tapWeight = new Float32Array(offsets[dstW]);
  xt.flat().forEach(([i, w], k) => { tapIndex[k] = i; tapWeight[k] = w; });
  const rows = new Float32Array(height * dstW);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < dstW; x++) {
      let sum = 0;
      for (let k = offsets[x]; k < offsets[x + 1]; k++) sum = Math.fround(sum + Math.fround(data[row + tapIndex[k]] * tapWeight[k]));
      rows[y * dstW + x] = sum;
    }
  }
  for (let y = 0; y < dstH; y++) {
    const acc = new Float32Array(dstW);
    for (const [syi, wy] of yt[y]) {
      const w32 = Math.fround(wy), base = syi * dstW;
      for (let x = 0; x < dstW; x++) acc[x] = Math.fround(acc[x] + Math.fround(rows[base + x] * w32));
    }
    for (let x = 0; x < dstW; x++) out[y * dstW + x] = clampByte(roundHalfEven(acc[x]));
  }
  return { data: out, width: dstW, height: dstH };
}

/** Source index and weight pairs for one axis of an INTER_LINEAR resize (half-pixel centres, edges clamped). */
function linearTable(srcSize, dstSize) {
  const scale = srcSize / dstSize, table = [];
  for (let d = 0; d < dstSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) { f = 0; s = 0; }
    if (s >= srcSize - 1) { f = 0; s = srcSize - 1; }
    table.push([s, Math.min(s + 1, srcSize - 1), f]);
  }
  return table;
}

/** cv2.resize(..., INTER_LINEAR) of a grey uint8 image (OpenCV's 11-bit fixed-point weights). */
export function resizeLinearU8(img, dstW, dstH) {
  const { data, width, height } = img;
  const xt = linearTable(width, dstW).map(([a, b, f]) => {
    const w0 = roundHalfEven((1 - f) * 2048);
    return [a, b, w0, 2048 - w0];
  });
  const yt = linearTable(height, dstH).map(([a, b, f]) => {
    const w0 = roundHalfEven((1 - f) * 2048);
    return [a, b, w0, 2048 - w0];
  });
  const out = new Uint8Array(dstW * dstH);
  const rowA = new Int32Array(dstW), rowB = new Int32Array(dstW);
  const hresize = (y, row) => {
    for (let x = 0; x < dstW; x++) {
      const [a, b, w0, w1] = xt[x];
      row[x] = data[y * width + a] * w0 + data[y * width + b] * w1;
    }
  };
  for (let y = 0; y < dstH; y++) {
    const [a, b, b0, b1] = yt[y];
    hresize(a, rowA);
    hresize(b, rowB);
    for (let x = 0; x < dstW; x++) {
      out[y * dstW + x] = clampByte((((b0 * (rowA[x] >> 4)) >> 16) + ((b1 * (rowB[x] >> 4)) >> 16) + 2) >> 2);
    }
  }
  return { data: out, width: dstW, height: dstH };
}

/** cv2.resize(..., INTER_LINEAR) of a one-channel float32 image (float weights). */
export function resizeLinearF32(img, dstW, dstH) {
  const { data, width, height } = img;
  const xt = linearTable(width, dstW), yt = linearTable(height, dstH);
  const out = new Float32Array(dstW * dstH);
  const row = (y) => xt.map(([a, b, f]) =>
    Math.fround(Math.fround(data[y * width + a] * Math.fround(1 - f)) + Math.fround(data[y * width + b] * f)));
  for (let y = 0; y < dstH; y++) {
    const [a, b, f] = yt[y];
    const ra = row(a), rb = row(b), w0 = Math.fround(1 - f);
    for (let x = 0; x < dstW; x++) out[y * dstW + x] = Math.fround(Math.fround(ra[x] * w0) + Math.fround(rb[x] * f));
  }
  return { data: out, width: dstW, height: dstH };
}

/** detection.letterbox: the grey frame scaled to fit a size x size square, centred on black.
 * Returns {square, scale, padX, padY}. */
export function letterbox(gray, size) {
  const scale = size / Math.max(gray.width, gray.height);
  const nw = Math.max(1, roundHalfEven(gray.width * scale)), nh = Math.max(1, roundHalfEven(gray.height * scale));
  const resized = scale < 1 ? resizeArea(gray, nw, nh) : resizeLinearU8(gray, nw, nh);
  const square = new Uint8Array(size * size);
  const padX = (size - nw) >> 1, padY = (size - nh) >> 1;
  for (let y = 0; y < nh; y++) square.set(resized.data.subarray(y * nw, (y + 1) * nw), (y + padY) * size + padX);
  return { square: { data: square, width: size, height: size }, scale, padX, padY };
}

/** BORDER_REFLECT (fedcba|abcdefgh|hgfedcb): the index inside 0..n-1 that stands for `p`. */
function reflect(p, n) {
  if (n === 1) return 0;
  while (p < 0 || p >= n) p = p < 0 ? -p - 1 : 2 * n - p - 1;
  return p;
}

/** The inverse of a 2x3 affine matrix [a, b, c, d, e, f] (cv2.invertAffineTransform). */
export function invertAffine([m00, m01, m02, m10, m11, m12]) {
  let det = m00 * m11 - m01 * m10;
  det = det !== 0 ? 1 / det : 0;
  const a11 = m11 * det, a22 = m00 * det, a12 = -m01 * det, a21 = -m10 * det;
  return [a11, a12, -a11 * m02 - a12 * m12, a21, a22, -a21 * m02 - a22 * m12];
}

/** cv2.warpAffine(gray, m, (size, size), INTER_LINEAR, BORDER_REFLECT): OpenCV's fixed point (source coordinates
 * in 1/32 pixel, 15-bit bilinear weights). INTER_AREA, which crop_aligned asks for when shrinking, is bilinear
 * in warpAffine too. */
export function warpAffine(gray, m, size) {
  const [a, b, c, d, e, f] = invertAffine(m);
  const { data, width, height } = gray;
  const out = new Uint8Array(size * size);
  const AB = 1024, ROUND = 16; // AB_BITS 10, INTER_BITS 5: round half a 1/32 step
  for (let y = 0; y < size; y++) {
    const x0 = roundHalfEven((b * y + c) * AB) + ROUND, y0 = roundHalfEven((e * y + f) * AB) + ROUND;
    for (let x = 0; x < size; x++) {
      const X = (x0 + roundHalfEven(a * x * AB)) >> 5, Y = (y0 + roundHalfEven(d * x * AB)) >> 5;
      const sx = X >> 5, sy = Y >> 5, fx = (X & 31) / 32, fy = (Y & 31) / 32;
      const w00 = (1 - fy) * (1 - fx) * 32768, w01 = (1 - fy) * fx * 32768, w10 = fy * (1 - fx) * 32768, w11 = fy * fx * 32768;
      const x1 = reflect(sx, width), x2 = reflect(sx + 1, width), y1 = reflect(sy, height), y2 = reflect(sy + 1, height);
      const v = data[y1 * width + x1] * w00 + data[y1 * width + x2] * w01 + data[y2 * width + x1] * w10
        + data[y2 * width + x2] * w11;
      out[y * size + x] = clampByte((v + 16384) >> 15);
    }
  }
  return { data: out, width: size, height: size };
}

/** pipeline.eye_angle: the tilt of the line through the eyes in degrees (keypoints [[x, y], ...], KEYPOINTS order). */
export function eyeAngle(keypoints) {
  const [[rx, ry], [lx, ly]] = keypoints;
  return (Math.atan2(ly - ry, lx - rx) * 180) / Math.PI;
}

/** pipeline.crop_aligned for one face {box: [x, y, w, h], keypoints}: a size x size grey crop of a square of side
 * `expand` x the box's larger side around its centre, turned so the eye line is level when `align`. */
export function cropAligned(gray, face, size, expand, align) {
  const [x, y, w, h] = face.box;
  const side = Math.max(w, h) * expand;
  const angle = align && face.keypoints ? eyeAngle(face.keypoints) : 0;
  const cx = x + w / 2, cy = y + h / 2, scale = size / side;
  const rad = (angle * Math.PI) / 180, alpha = Math.cos(rad) * scale, beta = Math.sin(rad) * scale;
  const m = [alpha, beta, (1 - alpha) * cx - beta * cy + size / 2 - cx,
    -beta, alpha, beta * cx + (1 - alpha) * cy + size / 2 - cy];
  return warpAffine(gray, m, size);
}

/** One of inference.tta_views's 4 test-time views of one face (a grey uint8 crop) as a float32 image: 0 as is,
 * 1 mirrored, 2 a central crop zoomed by `zoom`, 3 that crop mirrored. */
export function ttaView(face, zoom, view) {
  const { width: w, height: h } = face;
  let image = Float32Array.from(face.data);
  if (view >= 2) {
    const ch = roundHalfEven(h / zoom), cw = roundHalfEven(w / zoom);
    const top = (h - ch) >> 1, left = (w - cw) >> 1;
    const crop = new Float32Array(cw * ch);
    for (let y = 0; y < ch; y++) crop.set(image.subarray((top + y) * w + left, (top + y) * w + left + cw), y * cw);
    image = resizeLinearF32({ data: crop, width: cw, height: ch }, w, h).data;
  }
  if (view % 2 === 1) {
    const mirrored = new Float32Array(image.length);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mirrored[y * w + x] = image[y * w + (w - 1 - x)];
    image = mirrored;
  }
  return image;
}

/** inference.tta_views for one face: its 4 test-time views, in order. */
export function ttaViews(face, zoom) {
  return [0, 1, 2, 3].map((view) => ttaView(face, zoom, view));
}
