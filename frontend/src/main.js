// The web app's live camera, run entirely in the visitor's browser: a Streamlit component (the plain
// postMessage protocol of components v1, no framework). Camera frames never leave the page: each one is
// analysed here with LiteRT.js and drawn with its faces, the largest face's label and probability chart,
// and the frames/s and ms per frame this page measures. Opened as index.html?mode=test (outside Streamlit)
// it only loads the pipeline and exposes it as window.ferTest, for tests/test_browser_live.py.
import { FerPipeline } from './pipeline.js';
import * as blazeface from './blazeface.js';
import * as preprocess from './preprocess.js';

const BASE = new URL('./', window.location.href);
const STATS_WINDOW_MS = 2000; // frames/s and ms per frame: over the last 2 seconds
const STALL_MS = 5000; // no new camera frame for this long while playing: the camera dropped

const $ = (id) => document.getElementById(id);

/** Set an element's text only when it changes (the panel is updated every frame). */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function send(type, data = {}) {
  window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, '*');
}

function setFrameHeight() {
  send('streamlit:setFrameHeight', { height: Math.ceil(document.documentElement.scrollHeight) });
}

/** What to tell the visitor for a camera that could not start (getUserMedia's error names). */
function cameraMessage(error) {
  const what = {
    NotAllowedError: 'Camera access was denied. Allow the camera for this site (the camera icon in the address bar, '
      + 'or the browser\'s site settings), then press Start camera again.',
    SecurityError: 'Camera access was denied. Allow the camera for this site (the camera icon in the address bar, '
      + 'or the browser\'s site settings), then press Start camera again.',
    NotFoundError: 'No camera was found. Connect a camera (or enable it in the system settings), then press Start '
      + 'camera again.',
    OverconstrainedError: 'The camera cannot deliver video in a size this page can use. Try another camera, then press '
      + 'Start camera again.',
    NotReadableError: 'The camera is in use by another application or tab, or the system blocked it. Close the other '
      + 'application, then press Start camera again.',
    AbortError: 'The camera could not be started. Check that it works in another application, then press Start '
      + 'camera again.',
  }[error && error.name];
  return what || `The camera could not be started (${error && error.name ? error.name : 'unknown error'}: `
    + `${error && error.message ? error.message : error}). Check the camera, then press Start camera again.`;
}

class LiveCamera {
  constructor(constants) {
    this.c = constants;
    this.pipeline = null;
    this.stream = null;
    this.running = false;
    this.args = { smoothing: constants.video.smoothing, min_face: constants.detector.min_size, width: 640, height: 480 };
    this.video = $('video');
    this.canvas = $('view');
    this.work = document.createElement('canvas');
    this.workCtx = this.work.getContext('2d', { willReadFrequently: true });
    this.ctx = this.canvas.getContext('2d');
    $('start').addEventListener('click', () => (this.running ? this.stop() : this.start()));
    // a hidden tab gets no video frames: not a dropped camera, so the stall clock restarts when it shows again
    document.addEventListener('visibilitychange', () => { this.lastFrameAt = performance.now(); });
    this.buildChart();
    this.resetStats();
  }

  buildChart() {
    const chart = $('chart');
    this.bars = {};
    for (const emotion of this.c.emotions) {
      const row = document.createElement('div');
      row.className = 'bar-row';
      row.innerHTML = `<span class="bar-name">${emotion}</span><span class="bar-track"><span class="bar"></span></span>`
        + '<span class="bar-value">-</span>';
      const [r, g, b] = this.c.emotion_colors_rgb[emotion];
      row.querySelector('.bar').style.background = `rgb(${r}, ${g}, ${b})`;
      chart.appendChild(row);
      this.bars[emotion] = row;
    }
  }

  configure(args) {
    this.args = { ...this.args, ...args };
    if (this.pipeline) {
      this.pipeline.smoothing = this.args.smoothing;
      this.pipeline.minSize = this.args.min_face;
    }
    $('smoothing-note').textContent = this.args.smoothing > 0
      ? `Smoothed: each number mixes this frame (${Math.round((1 - this.args.smoothing) * 100)}%) with the face's `
        + `previous numbers (${Math.round(this.args.smoothing * 100)}%; the sidebar's Live smoothing), and every frame `
        + 'averages the last 4 test-time views. The label is the largest bar.'
      : 'Not smoothed (Live smoothing 0): each frame averages the last 4 test-time views. The label is the largest bar.';
  }

  async ensurePipeline() {
    if (!this.pipeline) {
      this.setStatus('Loading the models into this page (about 15 MB, once)...');
      this.pipeline = await FerPipeline.load(BASE, this.c);
      this.configure({});
    }
    return this.pipeline;
  }

  setStatus(text) {
    $('status').textContent = text;
    setFrameHeight();
  }

  showError(text) {
    const box = $('message');
    box.textContent = text;
    box.hidden = !text;
    setFrameHeight();
  }

  setPlaying(playing) {
    this.running = playing;
    $('start').textContent = playing ? 'Stop camera' : 'Start camera';
    $('tips').hidden = playing;
    $('stage').classList.toggle('playing', playing);
    document.body.dataset.state = playing ? 'playing' : 'stopped';
    setFrameHeight();
  }

  resetStats() {
    this.frameTimes = [];
    this.lastFrameAt = null;
    this.framesTotal = 0;
    $('label').textContent = '-';
    $('label').style.borderColor = 'transparent';
    $('fps').textContent = '-';
    $('ms').textContent = '-';
    $('faces').textContent = '-';
    for (const row of Object.values(this.bars)) {
      row.querySelector('.bar').style.width = '0%';
      row.querySelector('.bar-value').textContent = '-';
    }
  }

  async start() {
    this.showError('');
    $('start').disabled = true;
    try {
      await this.ensurePipeline();
    } catch (error) {
      $('start').disabled = false;
      this.setStatus('');
      this.showError(`The in-browser model could not start (${error.message || error}). Use a current Chrome, Edge, `
        + 'Firefox or Safari; the Photos page still works.');
      return;
    }
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw Object.assign(new Error('no camera API'), { name: 'InsecureContext' });
      }
      this.setStatus('Asking for the camera...');
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: {
        width: { ideal: this.args.width }, height: { ideal: this.args.height } } });
    } catch (error) {
      $('start').disabled = false;
      this.setStatus('');
      this.showError(error.name === 'InsecureContext'
        ? 'This browser offers the camera only to secure pages: open the app on https or on localhost.'
        : cameraMessage(error));
      return;
    }
    const track = this.stream.getVideoTracks()[0];
    track.addEventListener('ended', () => this.fail('The camera stopped sending video (unplugged, switched off, or '
      + 'its permission withdrawn). Check it, then press Start camera again.'));
    this.video.srcObject = this.stream;
    await this.video.play();
    $('start').disabled = false;
    this.pipeline.reset();
    this.resetStats();
    this.setPlaying(true);
    this.setStatus('');
    this.watchdog = setInterval(() => {
      if (this.running && !document.hidden && performance.now() - this.lastFrameAt > STALL_MS) {
        this.fail(`No camera frame for ${STALL_MS / 1000} s: the camera stopped delivering video. Check it (another `
          + 'application may have taken it), then press Start camera again.');
      }
    }, 1000);
    this.lastFrameAt = performance.now();
    this.loop();
  }

  stop() {
    clearInterval(this.watchdog);
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.video.srcObject = null;
    this.setPlaying(false);
    this.resetStats();
  }

  fail(message) {
    if (!this.running) return;
    this.stop();
    this.showError(message);
  }

  nextVideoFrame() {
    return new Promise((resolve) => {
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(() => resolve());
      else requestAnimationFrame(() => resolve());
    });
  }

  async loop() {
    let next = this.nextVideoFrame();
    while (this.running) {
      await next;
      next = this.nextVideoFrame(); // asked now: a frame arriving while this one is analysed is taken at once
      if (!this.running) break;
      const w = this.video.videoWidth, h = this.video.videoHeight;
      if (!w || !h) continue;
      const started = performance.now();
      if (this.work.width !== w || this.work.height !== h) {
        this.work.width = w; this.work.height = h; this.canvas.width = w; this.canvas.height = h;
      }
      this.workCtx.drawImage(this.video, 0, 0, w, h);
      const image = this.workCtx.getImageData(0, 0, w, h);
      let results;
      try {
        results = await this.pipeline.analyseVideoFrame(preprocess.rgbaToGray(image.data, w, h));
      } catch (error) {
        this.fail(`A frame could not be analysed (${error.message || error}); press Start camera to try again.`);
        break;
      }
      if (!this.running) break;
      this.draw(results);
      const done = performance.now();
      this.lastFrameAt = done;
      this.framesTotal += 1;
      const { detectMs, classifyMs } = this.pipeline.lastTimings;
      this.frameTimes.push([done, done - started, detectMs, classifyMs]);
      while (this.frameTimes.length && done - this.frameTimes[0][0] > STATS_WINDOW_MS) this.frameTimes.shift();
      this.show(results); // every frame: the panel's numbers are always those drawn on the video
    }
  }

  draw(results) {
    const ctx = this.ctx, w = this.canvas.width;
    ctx.drawImage(this.work, 0, 0);
    const scale = Math.max(w / 640, 0.5);
    for (const r of results) {
      const [x, y, bw, bh] = r.box;
      const [cr, cg, cb] = this.c.emotion_colors_rgb[r.emotion];
      ctx.strokeStyle = `rgb(${cr}, ${cg}, ${cb})`;
      ctx.lineWidth = Math.max(1, Math.round(2 * scale));
      ctx.strokeRect(x, y, bw, bh);
      const text = `${r.emotion} ${Math.round(r.probabilities[r.emotion] * 100)}%`;
      ctx.font = `bold ${Math.round(16 * scale)}px sans-serif`;
      const tw = ctx.measureText(text).width, th = Math.round(18 * scale);
      const ty = y - th >= 0 ? y - th : y + bh;
      ctx.fillStyle = 'rgba(0, 0, 0, 0.6)';
      ctx.fillRect(x, ty, tw + 6, th);
      ctx.fillStyle = `rgb(${cr}, ${cg}, ${cb})`;
      ctx.fillText(text, x + 3, ty + th - 4 * scale);
    }
  }

  /** The largest face's label and chart (the same numbers), and the page's own frame rate and time per frame. */
  show(results) {
    const n = this.frameTimes.length;
    const span = n > 1 ? this.frameTimes[n - 1][0] - this.frameTimes[0][0] : 0;
    const fps = span > 0 ? ((n - 1) * 1000) / span : 0;
    const ms = this.frameTimes.reduce((s, t) => s + t[1], 0) / Math.max(n, 1);
    setText($('fps'), fps.toFixed(1));
    setText($('ms'), ms.toFixed(1));
    setText($('faces'), String(results.length));
    document.body.dataset.fps = fps.toFixed(2);
    document.body.dataset.ms = ms.toFixed(2);
    // where the time goes (for benchmarks/browser_visitors.py): detection, and crops + emotion model
    document.body.dataset.detectMs = (this.frameTimes.reduce((s, t) => s + t[2], 0) / Math.max(n, 1)).toFixed(2);
    document.body.dataset.classifyMs = (this.frameTimes.reduce((s, t) => s + t[3], 0) / Math.max(n, 1)).toFixed(2);
    document.body.dataset.frames = String(this.framesTotal);
    const face = results[0]; // largest first
    const label = face ? `${face.emotion} ${Math.round(face.probabilities[face.emotion] * 100)}%` : 'no face in view';
    setText($('label'), label);
    const [r, g, b] = face ? this.c.emotion_colors_rgb[face.emotion] : [0, 0, 0];
    $('label').style.borderColor = face ? `rgb(${r}, ${g}, ${b})` : 'transparent'; // text in the theme's colour
    for (const emotion of this.c.emotions) {
      const p = face ? face.probabilities[emotion] : 0;
      const width = `${(p * 100).toFixed(1)}%`, bar = this.bars[emotion].querySelector('.bar');
      if (bar.style.width !== width) bar.style.width = width;
      setText(this.bars[emotion].querySelector('.bar-value'), face ? `${Math.round(p * 100)}%` : '-');
    }
  }
}

function applyTheme(theme) {
  if (!theme) return;
  const root = document.documentElement.style;
  if (theme.textColor) root.setProperty('--text', theme.textColor);
  if (theme.backgroundColor) root.setProperty('--background', theme.backgroundColor);
  if (theme.secondaryBackgroundColor) root.setProperty('--panel', theme.secondaryBackgroundColor);
  if (theme.primaryColor) root.setProperty('--primary', theme.primaryColor);
  if (theme.font) root.setProperty('--font', theme.font);
}

async function main() {
  const constants = await (await fetch(new URL('fer_constants.json', BASE))).json();
  if (new URLSearchParams(window.location.search).get('mode') === 'test') {
    document.body.dataset.mode = 'test';
    const pipeline = await FerPipeline.load(BASE, constants);
    window.ferTest = { pipeline, preprocess, blazeface, constants };
    document.body.dataset.ready = 'true';
    return;
  }
  const camera = new LiveCamera(constants);
  window.addEventListener('message', (event) => {
    const data = event.data || {};
    if (data.type !== 'streamlit:render') return;
    applyTheme(data.theme);
    camera.configure(data.args || {});
    setFrameHeight();
  });
  new ResizeObserver(setFrameHeight).observe(document.body);
  send('streamlit:componentReady', { apiVersion: 1 });
  setFrameHeight();
}

main().catch((error) => {
  const box = $('message');
  if (box) {
    box.textContent = `The live camera could not start (${error.message || error}).`;
    box.hidden = false;
  }
  document.body.dataset.error = String(error.message || error);
  setFrameHeight();
});
