// Frame pump: ipywebrtc stream -> hidden <video> -> 320x240 canvas -> JPEG -> kernel -> annotated JPEG.
const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

function explain(err) {
  const name = (err && err.name) || "";
  if (name === "NotAllowedError" || name === "SecurityError")
    return "Camera permission denied. Allow the camera for this page (the camera icon in the address bar), then press Start. Note: browsers only offer the camera on https:// or localhost pages.";
  if (name === "NotFoundError" || name === "OverconstrainedError")
    return "No camera found. Plug one in (or use the video-file source below), then press Start.";
  if (name === "NotReadableError")
    return "The camera is in use by another program. Close it, then press Start.";
  return "Could not start the stream: " + ((err && err.message) || err);
}

async function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "fer-live";
  root.innerHTML = `
    <img class="fer-frame" alt="annotated frame">
    <div class="fer-side">
      <div><button class="fer-start">Start</button> <button class="fer-stop">Stop</button></div>
      <div class="fer-stats" data-received="0" data-fps="0" data-faces="0" data-kernel-frames="0">not started</div>
      <div class="fer-error"></div>
      <div class="fer-bars"></div>
      <div class="fer-note"></div>
    </div>`;
  el.appendChild(root);
  const img = root.querySelector(".fer-frame");
  const stats = root.querySelector(".fer-stats");
  const errorBox = root.querySelector(".fer-error");
  const bars = root.querySelector(".fer-bars");
  root.querySelector(".fer-note").textContent = model.get("note");
  bars.innerHTML = EMOTIONS.map((e) =>
    `<div class="fer-bar-row"><span class="fer-bar-label">${e}</span><div class="fer-bar" data-e="${e}" style="width:0px"></div><span data-p="${e}"></span></div>`).join("");

  const video = document.createElement("video");
  video.muted = true; video.playsInline = true; video.style.display = "none";
  root.appendChild(video);
  const canvas = document.createElement("canvas");
  canvas.width = model.get("width"); canvas.height = model.get("height");
  const ctx = canvas.getContext("2d");

  // frames sent and not answered yet, by number; with no answer for STALE_MS they are taken as lost (a busy kernel,
  // or its connection dropped and came back): forgotten, so their late answers are ignored, and one more frame is
  // sent. The pump never stalls for good, never has more than max_in_flight frames counted, and a busy kernel gets
  // at most one frame per STALE_MS.
  const STALE_MS = 3000;
  const pending = new Set();
  let running = false, sent = 0, received = 0, lastUrl = null, faces = 0, freshFrame = false, browserMs = 0;
  let lastAnswerAt = 0;
  const arrivals = [];

  function showError(message) {
    errorBox.textContent = message;
    model.set("error", message); model.save_changes();
  }

  async function mediaStream() {
    const ref = model.get("stream");
    if (!ref) throw new Error("no stream was given to the widget");
    const streamModel = await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
    return await streamModel.captureStream();
  }

  function sendFrame() {
    if (running && pending.size && performance.now() - lastAnswerAt > STALE_MS) {
      pending.clear();
      lastAnswerAt = performance.now();
      stats.textContent = `no answer from the kernel for ${STALE_MS / 1000} s (busy, or its connection dropped): still trying`;
    }
    if (!running || !freshFrame || pending.size >= model.get("max_in_flight") || video.readyState < 2) return;
    freshFrame = false;  // never send the same video frame twice
    const t0 = performance.now();
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const seq = ++sent;
    pending.add(seq);
    canvas.toBlob((blob) => {
      if (!blob) { pending.delete(seq); return; }
      blob.arrayBuffer().then((buf) => {
        browserMs = performance.now() - t0;  // capture + JPEG encoding, in the browser
        model.send({ type: "frame", browser_ms: browserMs, seq }, undefined, [buf]);
      });
    }, "image/jpeg", model.get("jpeg_quality"));
  }

  function loop() {
    if (!running) return;
    freshFrame = true;
    sendFrame();
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(loop);  // once per new frame
    else setTimeout(loop, 15);
  }

  async function start() {
    if (running) return;
    errorBox.textContent = "";
    try {
      const stream = await mediaStream();
      if (video.srcObject !== stream) video.srcObject = stream;
      await video.play();
    } catch (err) {
      showError(explain(err));
      return;
    }
    running = true; lastAnswerAt = performance.now(); stats.textContent = "waiting for the first frame...";
    loop();
  }

  function stop() { running = false; video.pause(); stats.textContent += " (stopped)"; }  // tracks stay: ipywebrtc shares them

  model.on("msg:custom", (msg, buffers) => {
    if ((msg.type !== "result" && msg.type !== "error") || !pending.delete(msg.seq)) return;  // late: taken as lost
    lastAnswerAt = performance.now();
    if (msg.type === "error") { errorBox.textContent = msg.message; sendFrame(); return; }
    received++;
    const now = performance.now();
    arrivals.push(now);
    while (arrivals.length && now - arrivals[0] > 3000) arrivals.shift();
    const fps = arrivals.length > 1 ? (1000 * (arrivals.length - 1)) / (now - arrivals[0]) : 0;
    const url = URL.createObjectURL(new Blob([buffers[0]], { type: "image/jpeg" }));
    img.src = url;
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = url;
    faces += msg.faces.length;
    const first = msg.faces[0];
    for (const e of EMOTIONS) {
      const p = first ? first.probabilities[e] : 0;
      bars.querySelector(`[data-e="${e}"]`).style.width = `${Math.round(p * 150)}px`;
      bars.querySelector(`[data-p="${e}"]`).textContent = first ? `${Math.round(p * 100)}%` : "";
    }
    Object.assign(stats.dataset, { received, fps: fps.toFixed(1), faces, kernelFrames: msg.frames,
      browserMs: browserMs.toFixed(1), kernelMs: msg.kernel_ms });
    stats.textContent = `${received} annotated frames, ${fps.toFixed(1)} frames/s, ` +
      `${msg.faces.length} face(s) now; per frame: browser ${browserMs.toFixed(1)} ms, kernel ${msg.kernel_ms} ms` +
      (first ? `: ${first.emotion}` : "");
    sendFrame();
  });

  root.querySelector(".fer-start").onclick = start;
  root.querySelector(".fer-stop").onclick = stop;
  if (model.get("autostart")) start();
  return () => { running = false; if (lastUrl) URL.revokeObjectURL(lastUrl); };
}

export default { render };
