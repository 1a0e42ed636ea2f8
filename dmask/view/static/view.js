// dmask live view: the masked video from /stream.mjpg, the signals from /events.
// No pixel but the relayed masked frames is ever drawn; the plots are drawn from numbers.
"use strict";

const WINDOW_S = 10;
const state = { frames: 0, lastSeq: -1, latencies: [], samples: [], blinks: { right: 0, left: 0 } };
window.dmaskView = state;

function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// --- the video: multipart/x-mixed-replace parts, each a JPEG with its seq and capture time
function indexOf(buffer, length, pattern, from) {
  outer: for (let i = from; i <= length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (buffer[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

async function playVideo() {
  const canvas = document.getElementById("video");
  const context = canvas.getContext("2d");
  const response = await fetch("/stream.mjpg", { credentials: "same-origin" });
  if (!response.ok) { document.getElementById("status").textContent = "not logged in"; return; }
  const reader = response.body.getReader();
  const blank = new TextEncoder().encode("\r\n\r\n");
  let buffer = new Uint8Array(1 << 20), length = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (length + value.length > buffer.length) {
      const bigger = new Uint8Array(Math.max(buffer.length * 2, length + value.length));
      bigger.set(buffer.subarray(0, length));
      buffer = bigger;
    }
    buffer.set(value, length);
    length += value.length;
    for (;;) {
      const end = indexOf(buffer, length, blank, 0);
      if (end < 0) break;
      const head = new TextDecoder().decode(buffer.subarray(0, end));
      const size = Number(/Content-Length: (\d+)/i.exec(head)[1]);
      const start = end + blank.length;
      if (length < start + size + 2) break;
      const jpeg = buffer.slice(start, start + size);
      buffer.copyWithin(0, start + size + 2, length);
      length -= start + size + 2;
      const captured = Number(/X-Capture-Ts: ([\d.]+)/i.exec(head)[1]);
      state.lastSeq = Number(/X-Seq: (-?\d+)/i.exec(head)[1]);
      const image = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
      if (canvas.width !== image.width || canvas.height !== image.height) {
        canvas.width = image.width; canvas.height = image.height;
      }
      context.drawImage(image, 0, 0);
      state.frames += 1;
      state.latencies.push(Date.now() / 1000 - captured);
      if (state.latencies.length > 600) state.latencies.shift();
      document.getElementById("latency").textContent =
        `capture to screen ${(1000 * percentile(state.latencies, 0.5)).toFixed(0)} ms (p99 ${(1000 * percentile(state.latencies, 0.99)).toFixed(0)})`;
    }
  }
}

// --- the signals and the status, as Server-Sent Events; blinks are the daemon's own (each eye's `closed`)
function sample(body) {
  const face = body.faces && body.faces[0];
  const eye = (side) => face ? { yaw: face[`${side}_gaze_yaw_deg`], pitch: face[`${side}_gaze_pitch_deg`],
    aperture: face[`${side}_aperture`], closed: face[`${side}_closed`] === 1 } : null;
  return { t: body.capture_ts, right: eye("right"), left: eye("left"),
    hdev: face ? face.horizontal_deviation_pd : null, vdev: face ? face.vertical_deviation_pd : null };
}

function listen() {
  const events = new EventSource("/events");
  events.addEventListener("signals", (event) => {
    const now = sample(JSON.parse(event.data));
    const before = state.samples[state.samples.length - 1];
    for (const side of ["right", "left"]) {
      if (now[side] && now[side].closed && !(before && before[side] && before[side].closed)) state.blinks[side] += 1;
    }
    state.samples.push(now);
    while (state.samples.length && state.samples[0].t < now.t - WINDOW_S) state.samples.shift();
  });
  events.addEventListener("status", (event) => {
    const s = JSON.parse(event.data);
    const dropped = s.dropped ? Object.values(s.dropped).join("/") : "?";
    document.getElementById("status").textContent =
      `source ${s.source ? s.source.state : "?"} | ${Number(s.fps_in).toFixed(1)} fps in, ${Number(s.fps_out).toFixed(1)} out | dropped ${dropped}`;
  });
}

// --- the plots: the last 10 s, newest at the right
function plot(id, series, range, marks) {
  const canvas = document.getElementById(id);
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const samples = state.samples;
  if (!samples.length) return;
  const newest = samples[samples.length - 1].t;
  const x = (t) => width * (1 - (newest - t) / WINDOW_S);
  const y = (v) => height * (1 - (v - range[0]) / (range[1] - range[0]));
  context.fillStyle = "rgba(255, 255, 255, 0.15)";
  for (const s of samples) if (marks && marks(s)) context.fillRect(x(s.t) - 1, 0, 3, height);
  for (const [colour, get] of series) {
    context.strokeStyle = colour;
    context.beginPath();
    let drawing = false;
    for (const s of samples) {
      const v = get(s);
      if (v === null || v === undefined || Number.isNaN(v)) { drawing = false; continue; }
      if (drawing) context.lineTo(x(s.t), y(v)); else context.moveTo(x(s.t), y(v));
      drawing = true;
    }
    context.stroke();
  }
}

function draw() {
  const right = "#4aa3ff", left = "#ffa040";
  plot("gaze", [[right, (s) => s.right && s.right.yaw], [left, (s) => s.left && s.left.yaw]], [-40, 40]);
  plot("lids", [[right, (s) => s.right && s.right.aperture], [left, (s) => s.left && s.left.aperture]], [0, 0.5],
    (s) => (s.right && s.right.closed) || (s.left && s.left.closed));
  plot("deviation", [["#e0e0e0", (s) => s.hdev], ["#a0ffa0", (s) => s.vdev]], [-30, 30]);
  requestAnimationFrame(draw);
}

playVideo();
listen();
requestAnimationFrame(draw);
