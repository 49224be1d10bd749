// framestyle live: sends the camera to the stylize live server over WebRTC and shows the stylized stream.
// State for automated checks is kept in window.live (read by the project's browser tests and benchmark).
"use strict";

const query = new URLSearchParams(location.search);
const token = query.get("token") || "";
const $ = (id) => document.getElementById(id);
const live = (window.live = {
  state: "starting", error: null, applied: null, serverStats: null, shown: 0, frameTimes: [],
  latencies: [], localTimes: [], remoteStamps: 0, sendRate: 30,
});
const HISTORY = 20000; // samples kept for the readout and the benchmark
let pc = null, channel = null, sender = null, lastStats = 0, styleRequested = null;
let offered = [], baseStyle = null; // the server's styles; the one picked with the thumbnails

function api(path) {
  return token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path;
}

function showMessage(text, note = false) {
  const box = $("message");
  box.textContent = text;
  box.className = note ? "note" : "";
  box.hidden = !text;
}

function fail(text) {
  live.state = "error";
  live.error = text;
  showMessage(text);
  $("readout").textContent = "stopped";
}

async function refusal(response) {
  try { return (await response.json()).error || response.statusText; } catch { return response.statusText; }
}

// --- the frame-counter stamp (framestyle.live.stamp): 16 bit pairs in two rows of 8 in the top-left corner -----
const BITS = 16, PER_ROW = 8, COUNTER_BITS = 11, MIN_CONTRAST = 24, SCALE = 4;
const stampCanvas = document.createElement("canvas");
stampCanvas.width = 2 * PER_ROW * SCALE;
stampCanvas.height = 2 * SCALE;
const stampContext = stampCanvas.getContext("2d", { willReadFrequently: true });

function checkBits(counter) { return (counter ^ (counter >> 5) ^ (counter >> 10) ^ 0b10110) & 31; }

function readStamp(video) {
  const cell = Math.max(2, Math.round(video.videoWidth / 40));
  if (!video.videoWidth || video.videoHeight < 2 * cell) return null;
  stampContext.drawImage(video, 0, 0, 2 * PER_ROW * cell, 2 * cell, 0, 0, stampCanvas.width, stampCanvas.height);
  const pixels = stampContext.getImageData(0, 0, stampCanvas.width, stampCanvas.height).data;
  const brightness = (cx, cy) => { // mean of the middle 2x2 of a cell drawn SCALE pixels wide
    let sum = 0;
    for (let y = cy * SCALE + 1; y < cy * SCALE + 3; y++)
      for (let x = cx * SCALE + 1; x < cx * SCALE + 3; x++) {
        const i = 4 * (y * stampCanvas.width + x);
        sum += (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
      }
    return sum / 4;
  };
  let code = 0;
  for (let bit = 0; bit < BITS; bit++) {
    const row = Math.floor(bit / PER_ROW), col = (bit % PER_ROW) * 2;
    const left = brightness(col, row), right = brightness(col + 1, row);
    if (Math.abs(left - right) < MIN_CONTRAST) return null;
    if (left > right) code |= 1 << bit;
  }
  const counter = code & ((1 << COUNTER_BITS) - 1);
  return code >> COUNTER_BITS === checkBits(counter) ? counter : null;
}

// --- per-frame callbacks: frames/s shown, and glass-to-glass latency when the camera carries a stamp -----------
const localShown = new Map(); // stamp -> when its camera frame was shown
const MATCH_MS = 4000;

function keep(list, item) { list.push(item); if (list.length > HISTORY) list.splice(0, list.length - HISTORY); }

function watchLocal(video) {
  const onFrame = (now, meta) => {
    const stamp = readStamp(video);
    if (stamp !== null) {
      localShown.set(stamp, meta.expectedDisplayTime);
      keep(live.localTimes, meta.expectedDisplayTime);
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

function watchRemote(video) {
  const onFrame = (now, meta) => {
    live.shown++;
    keep(live.frameTimes, meta.expectedDisplayTime);
    const stamp = readStamp(video);
    // a stamp comes back within MATCH_MS of its camera frame, or it is from an earlier loop of a test clip
    const latency = stamp === null ? null : meta.expectedDisplayTime - (localShown.get(stamp) ?? -Infinity);
    if (latency !== null && latency < MATCH_MS) {
      live.remoteStamps++;
      keep(live.latencies, [meta.expectedDisplayTime, latency, stamp]);
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

// --- readout ------------------------------------------------------------------------------------------------------
let previous = null; // last getStats totals, for the estimate when there is no stamp

async function estimateLatency() {
  const totals = { encode: 0, encoded: 0, jitter: 0, emitted: 0, decode: 0, decoded: 0, rtt: 0 };
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video") { totals.encode = s.totalEncodeTime; totals.encoded = s.framesEncoded; }
    if (s.type === "inbound-rtp" && s.kind === "video") {
      totals.jitter = s.jitterBufferDelay; totals.emitted = s.jitterBufferEmittedCount;
      totals.decode = s.totalDecodeTime; totals.decoded = s.framesDecoded;
    }
    if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) totals.rtt = s.currentRoundTripTime;
  });
  const before = previous || {};
  previous = totals;
  const mean = (sum, count) => {
    const frames = totals[count] - (before[count] || 0);
    return frames > 0 ? (totals[sum] - (before[sum] || 0)) / frames : 0;
  };
  const server = live.serverStats ? live.serverStats.server_ms / 1000 : 0;
  // camera-side encode, network both ways, server, jitter buffer, decode, and half a 60 Hz refresh on average
  const seconds = mean("encode", "encoded") + totals.rtt + server + mean("jitter", "emitted")
    + mean("decode", "decoded") + 1 / 120;
  return 1000 * seconds;
}

async function updateReadout() {
  if (live.state !== "streaming") return;
  const now = performance.now();
  const times = live.frameTimes.filter((t) => t > now - 1000);
  const fps = times.length > 1 ? (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000) : 0;
  const recent = live.latencies.filter(([t]) => t > now - 1000).map(([, ms]) => ms).sort((a, b) => a - b);
  let latency;
  if (recent.length) latency = `glass-to-glass ${Math.round(recent[Math.floor(recent.length / 2)])} ms`;
  else latency = `latency ≈ ${Math.round(await estimateLatency())} ms (estimated)`;
  const server = live.serverStats;
  const dropped = server && server.received ? ` · ${Math.round(100 * server.dropped / server.received)}% of camera frames skipped` : "";
  const size = server && server.width ? ` · ${server.width}x${server.height}` : "";
  $("readout").textContent = `${fps.toFixed(1)} frames/s · ${latency}${dropped}${size}`;
  if (lastStats && now - lastStats > 5000)
    fail("The stylize live server stopped answering (was it stopped?). Start it again and reload this page.");
}

// --- settings -----------------------------------------------------------------------------------------------------
function currentSettings() {
  return { style: styleRequested, strength: Number($("strength").value), temporal: Number($("temporal").value) };
}

function sendSettings() {
  $("strength-value").textContent = Number($("strength").value).toFixed(2);
  $("temporal-value").textContent = Number($("temporal").value).toFixed(2);
  if (channel && channel.readyState === "open") channel.send(JSON.stringify(currentSettings()));
}

function markStyle(name) {
  for (const button of $("styles").children) button.setAttribute("aria-checked", String(button.dataset.style === name));
}

// --- the mixer: the picked style and another of its shared network with the balance between them, or four on a pad
const label = (name) => name.replaceAll("_", " ");
const weight = (value) => String(Number(value.toFixed(2))); // "0.7", "1", "0"

function parseSpec(spec) { // "a=0.7,b=0.3" (or "a") as [[name, share], ...], the shares summing to 1
  const parts = spec.split(",").map((part) => {
    const [name, value] = part.split("=");
    return [name.trim(), value === undefined || !value.trim() ? 1 : Number(value)];
  });
  const total = parts.reduce((sum, [, share]) => sum + share, 0) || 1;
  return parts.map(([name, share]) => [name, share / total]);
}

function describe(spec) {
  const parts = parseSpec(spec);
  return parts.length === 1 ? label(parts[0][0]) : parts.map(([name, share]) => `${Math.round(100 * share)}% ${label(name)}`).join(" + ");
}

function partners(name) { // the other offered styles of the shared network of style `name`
  const own = offered.find((style) => style.name === name);
  if (!own || own.network === null || own.network === undefined) return [];
  return offered.filter((style) => style.network === own.network && style.name !== name);
}

// The pad: the picked style at the top left corner and three more at the others; the point's place mixes them,
// each corner weighing as much as the point is near it (bilinear weights, summing to 1).
let padPoint = [0, 0]; // across and down, 0 to 1; [0, 0] is the picked style alone
const padOpen = () => !$("pad-box").hidden && !$("mixer").hidden; // a style with no partners has no pad
const padCorners = () => [baseStyle, $("pad-1").value, $("pad-2").value, $("pad-3").value];

function padSpec() {
  const [x, y] = padPoint, shares = new Map();
  const weights = [(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y];
  padCorners().forEach((name, corner) => shares.set(name, (shares.get(name) || 0) + weights[corner]));
  const parts = [...shares].filter(([, share]) => share >= 0.005); // what rounds to 0 is left out
  return parts.length === 1 ? parts[0][0] : parts.map(([name, share]) => `${name}=${weight(share)}`).join(",");
}

function mixSpec() {
  if (padOpen()) return padSpec();
  const other = $("mix-with").value;
  if (!other) return baseStyle;
  const share = Number($("balance").value);
  return `${baseStyle}=${weight(1 - share)},${other}=${weight(share)}`;
}

function cornerStyles(first) { // the other corners' default styles: the partners in turn, first the one named
  const names = partners(baseStyle).map((style) => style.name).sort((a, b) => (b === first) - (a === first));
  return [0, 1, 2].map((index) => names[index % names.length]); // a style may take two corners when there are few
}

function fillCorner(select, others, fallback) { // a corner's choices, keeping its style if it is still offered
  const keep = select.value;
  select.replaceChildren(...others.map((style) => new Option(label(style.name), style.name)));
  select.value = others.some((style) => style.name === keep) ? keep : fallback;
}

function fillMixer(other) { // the mixer's choices for the picked style; hidden when it has none
  const others = partners(baseStyle), select = $("mix-with");
  select.replaceChildren(new Option("nothing", ""), ...others.map((style) => new Option(label(style.name), style.name)));
  select.value = others.some((style) => style.name === other) ? other : "";
  if (others.length) cornerStyles(select.value).forEach((name, index) => fillCorner($(`pad-${index + 1}`), others, name));
  $("mixer").hidden = others.length === 0;
}

function showPad() {
  const [x, y] = padPoint;
  $("pad-0").textContent = label(baseStyle);
  padCorners().forEach((name, corner) => {
    const thumb = $("pad").querySelectorAll(".pad-thumb")[corner], src = api(`/api/thumb/${encodeURIComponent(name)}.jpg`);
    if (thumb.getAttribute("src") !== src) thumb.src = src;
  });
  $("pad-dot").style.left = `${100 * x}%`;
  $("pad-dot").style.top = `${100 * y}%`;
  $("pad").setAttribute("aria-valuetext", describe(padSpec()));
}

function showStyleControls(thumb = true) {
  const other = $("mix-with").value;
  $("balance").disabled = !other;
  $("mix-base").textContent = label(baseStyle);
  $("mix-other").textContent = other ? label(other) : "";
  $("two-mix").hidden = padOpen();
  $("pad-open").textContent = padOpen() ? "mix two" : "mix four";
  $("pad-open").setAttribute("aria-expanded", String(padOpen()));
  if (padOpen()) showPad();
  markStyle(baseStyle);
  if (!thumb) return;
  const mixed = styleRequested.includes(",");
  $("mix-thumb").hidden = !mixed;
  if (mixed) $("mix-thumb").src = api(`/api/thumb/${encodeURIComponent(styleRequested)}.jpg`);
}

function togglePad() { // the pad opens on the mix shown (the two-style mix on its top edge), so nothing jumps
  if (!padOpen()) {
    const other = $("mix-with").value;
    cornerStyles(other).forEach((name, index) => { $(`pad-${index + 1}`).value = name; });
    padPoint = [other ? Number($("balance").value) : 0, 0];
  }
  $("pad-box").hidden = padOpen();
  chooseStyle();
}

function padMoved(x, y) {
  const clamp = (value) => Math.round(100 * Math.min(1, Math.max(0, value))) / 100;
  padPoint = [clamp(x), clamp(y)];
  chooseStyle(false); // each move from the next frame, no fade; the thumbnail once the point rests
}

function padPointer(event) {
  const box = $("pad").getBoundingClientRect();
  padMoved((event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
}

const PAD_KEYS = { ArrowLeft: [-0.05, 0], ArrowRight: [0.05, 0], ArrowUp: [0, -0.05], ArrowDown: [0, 0.05] };

function padKey(event) {
  const step = PAD_KEYS[event.key];
  if (!step) return;
  event.preventDefault();
  padMoved(padPoint[0] + step[0], padPoint[1] + step[1]);
}

function showStyle(spec) { // the controls set to a style, or a mix of two styles of one shared network
  styleRequested = spec;
  $("pad-box").hidden = true;
  const parts = parseSpec(spec);
  baseStyle = parts[0][0];
  fillMixer(parts.length === 2 ? parts[1][0] : "");
  if ($("mix-with").value) $("balance").value = parts[1][1];
  // A mix of three or more (from the address or the command line) is named in full: the mixer holds two.
  $("mix-note").hidden = parts.length < 3;
  $("mix-note").textContent = parts.length < 3 ? "" : `now ${describe(spec)}; the mixer replaces it with two`;
  showStyleControls();
}

function chooseStyle(thumb = true) { // a style control moved: ask for its style or mix
  $("mix-note").hidden = true;
  styleRequested = mixSpec();
  showStyleControls(thumb);
  sendSettings();
}

function buildPicker(styles) {
  for (const style of styles) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.style = style.name;
    button.setAttribute("role", "radio");
    button.title = style.artist ? `${style.title}, ${style.artist}` : style.title;
    const image = document.createElement("img");
    image.src = api(`/api/thumb/${encodeURIComponent(style.name)}.jpg`);
    image.alt = "";
    const name = document.createElement("span");
    name.textContent = label(style.name);
    button.append(image, name);
    button.addEventListener("click", () => { baseStyle = style.name; fillMixer($("mix-with").value); chooseStyle(); });
    $("styles").append(button);
  }
}

function onChannelMessage(event) {
  const message = JSON.parse(event.data);
  if (message.stats) { live.serverStats = message.stats; lastStats = performance.now(); paceCamera(message.stats.fps); }
  if (message.applied) {
    live.applied = message.applied;
    $("remote-caption").textContent = `stylized: ${describe(message.applied.style)}`;
  }
  if (message.error && !message.applied && message.error.startsWith("stylizing stopped")) return fail(message.error);
  if (message.error) {
    showMessage(message.error);
    setTimeout(() => { if (live.state === "streaming") showMessage(""); }, 6000);
    if (message.applied) showStyle(message.applied.style);
  }
}

// --- a new style from a picture: sent to the server, trained there in the background, then in the picker -------
let trainPoll = null;

function trainMessage(text, error = false) {
  if (error) live.trainError = text;
  $("train-status").textContent = text;
  $("train-status").className = error ? "error" : "";
}

function timeLeft(seconds) {
  return seconds >= 60 ? `${Math.ceil(seconds / 60)} min left` : `${Math.ceil(seconds)} s left`;
}

function showTraining(training) { // the progress bar and line for the server's training state
  live.training = training;
  const running = training.state === "running", name = label(training.name);
  $("train-start").disabled = running;
  $("train-progress").hidden = !running;
  $("train-progress").value = training.steps ? training.step / training.steps : 0;
  if (running && !training.step) trainMessage(`${name}: starting…`);
  else if (running && (training.step >= training.steps || training.seconds_left === 0)) trainMessage(`${name}: finishing…`);
  else if (running) trainMessage(`${name}: step ${training.step} of ${training.steps}, ${timeLeft(training.seconds_left)}`);
  else if (training.state === "done") trainMessage(`${name} is ready: it is in the style picker`);
  else if (training.state === "failed") trainMessage(`${name}: ${training.error}`, true);
}

async function refreshStyles() { // the picker gets the styles offered since the page started
  const response = await fetch(api("/api/styles"));
  if (!response.ok) return;
  const known = new Set(offered.map((style) => style.name));
  offered = (await response.json()).styles;
  buildPicker(offered.filter((style) => !known.has(style.name)));
  fillMixer($("mix-with").value);
  showStyleControls(false);
}

async function pollTraining() {
  let training;
  try {
    const response = await fetch(api("/api/status"));
    if (!response.ok) return;
    training = (await response.json()).training;
  } catch {
    return; // a server that stopped answering is reported by the readout
  }
  showTraining(training);
  if (training.state === "running") return;
  clearInterval(trainPoll);
  trainPoll = null;
  if (training.state === "done") await refreshStyles();
}

function followTraining() {
  if (!trainPoll) trainPoll = setInterval(pollTraining, 1000);
}

function setupTraining(training) { // shown only where the server can train (stylize live --vgg-weights)
  live.training = training;
  $("trainer").hidden = !training.available;
  if (training.available && training.state === "running") { showTraining(training); followTraining(); }
}

function suggestName(filename) { // "Water Lilies.jpg" -> "water_lilies"
  return filename.replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9_-]+/g, "_").replace(/^[^a-z0-9]+/, "").slice(0, 64);
}

function pictureChosen() {
  const picture = $("train-picture").files[0];
  if (!picture) return;
  if (!$("train-name").value.trim()) $("train-name").value = suggestName(picture.name);
  trainMessage(`picture: ${picture.name}`);
}

function pictureDropped(event) {
  event.preventDefault();
  $("trainer").classList.remove("dropping");
  const files = event.dataTransfer ? event.dataTransfer.files : [];
  if ($("trainer").hidden || !files.length) return;
  const one = new DataTransfer();
  one.items.add(files[0]);
  $("train-picture").files = one.files;
  pictureChosen();
}

async function train() {
  const picture = $("train-picture").files[0], name = $("train-name").value.trim();
  if (!picture) return trainMessage("Choose a picture, or drop one on the page.", true);
  if (!name) return trainMessage("Give the new style a name.", true);
  const form = new FormData();
  form.append("name", name);
  form.append("picture", picture, picture.name);
  $("train-start").disabled = true;
  try {
    const response = await fetch(api("/api/train"), { method: "POST", body: form });
    if (!response.ok) { $("train-start").disabled = false; return trainMessage(await refusal(response), true); }
    showTraining(await response.json());
    followTraining();
  } catch {
    $("train-start").disabled = false;
    trainMessage("The stylize live server does not answer.", true);
  }
}

// --- pacing: the camera is sent at about the rate the server stylizes, with room to grow, not always at 30
// frames/s: each frame the server would skip still costs Chrome an encode and the server a decode.
const SEND_RATES = [8, 30]; // frames/s, the lowest and highest asked for

function sendRateFor(stylizedPerSecond, current) { // the camera's send rate for the server's stylizing rate
  const rate = Math.min(SEND_RATES[1], Math.max(SEND_RATES[0], Math.round(1.5 * stylizedPerSecond + 2)));
  return Math.abs(rate - current) < 2 ? current : rate; // a change under 2 frames/s is not worth resetting the encoder
}

async function paceCamera(stylizedPerSecond) {
  if (!sender || !(stylizedPerSecond > 0)) return;
  const rate = sendRateFor(stylizedPerSecond, live.sendRate), parameters = sender.getParameters();
  if (rate === live.sendRate || !parameters.encodings || !parameters.encodings.length) return;
  parameters.encodings[0].maxFramerate = rate;
  live.sendRate = rate;
  await sender.setParameters(parameters).catch(() => {});
}

// --- snapshot -----------------------------------------------------------------------------------------------------
function snapshot() {
  const video = $("remote");
  if (!video.videoWidth) return;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => {
    const link = document.createElement("a");
    const when = new Date().toISOString().replace(/[:.]/g, "-");
    link.download = `framestyle-${(live.applied || {}).style || "live"}-${when}.png`;
    link.href = URL.createObjectURL(blob);
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }, "image/png");
}

// --- connection ---------------------------------------------------------------------------------------------------
// Chrome starts sending at a low bitrate and scales the picture down until its estimate has grown; these SDP
// parameters (read by Chrome from the answer) start it at a bitrate that carries 640x360 at 30 frames/s.
function withBitrate(sdp) {
  const lines = sdp.split("\r\n");
  const extra = "x-google-min-bitrate=800;x-google-start-bitrate=1500;x-google-max-bitrate=4000";
  const types = new Set();
  for (const line of lines) {
    const match = /^a=rtpmap:(\d+) (VP8|VP9|H264|AV1)\/90000/.exec(line);
    if (match) types.add(match[1]);
  }
  const out = [];
  const fmtp = new Set();
  for (const line of lines) {
    const match = /^a=fmtp:(\d+) /.exec(line);
    if (match && types.has(match[1])) { out.push(`${line};${extra}`); fmtp.add(match[1]); } else out.push(line);
  }
  for (let i = out.length - 1; i >= 0; i--) {
    const match = /^a=rtpmap:(\d+) /.exec(out[i]);
    if (match && types.has(match[1]) && !fmtp.has(match[1])) out.splice(i + 1, 0, `a=fmtp:${match[1]} ${extra}`);
  }
  return out.join("\r\n");
}

function gathered(connection) {
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (connection.iceGatheringState === "complete") resolve(); };
    connection.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 3000); // host candidates come at once; do not wait forever for the rest
  });
}

function cameraMessage(error) {
  switch (error.name) {
    case "NotAllowedError": case "SecurityError":
      return "Camera permission was refused. Allow the camera for this page (the camera icon in the address bar) and reload.";
    case "NotReadableError": case "TrackStartError": case "AbortError":
      return "The camera is busy or could not start: another program or tab may be using it. Close it and reload.";
    case "NotFoundError": case "OverconstrainedError":
      return "No camera was found. Connect one and reload.";
    default:
      return `The camera could not be opened (${error.name}: ${error.message}).`;
  }
}

function lost() {
  if (live.state === "streaming" || live.state === "connecting")
    fail("Lost the connection to the stylize live server (was it stopped?). Start it again and reload this page.");
}

async function start() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia)
    return fail("The browser gives the camera only to pages from this machine (http://127.0.0.1) or over https. " +
      "Open the page on the machine that runs stylize live, or start it with --certfile and --keyfile.");
  let config;
  try {
    const response = await fetch(api("/api/styles"));
    if (!response.ok) return fail(await refusal(response));
    config = await response.json();
  } catch {
    return fail("The stylize live server does not answer. Start it (stylize live) and reload this page.");
  }
  offered = config.styles;
  buildPicker(config.styles);
  showStyle(query.get("style") || config.style);
  const [width, height] = (query.get("camera") || "").split("x").map(Number);
  const cameraSize = width > 0 && height > 0 ? { width, height } : config.camera;
  setupTraining(config.training);
  $("strength").value = query.get("strength") || config.strength;
  $("temporal").value = query.get("temporal") || config.temporal;
  $("strength-value").textContent = Number($("strength").value).toFixed(2);
  $("temporal-value").textContent = Number($("temporal").value).toFixed(2);
  live.state = "camera";
  showMessage("Asking for the camera…", true);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: cameraSize.width }, height: { ideal: cameraSize.height }, frameRate: { ideal: 30 } },
      audio: false });
  } catch (error) {
    return fail(cameraMessage(error));
  }
  const camera = stream.getVideoTracks()[0];
  camera.addEventListener("ended", () => fail("The camera stopped (unplugged, or taken by another program). Reload to start again."));
  $("local").srcObject = stream;
  watchLocal($("local"));
  live.state = "connecting";
  showMessage("Connecting to the server…", true);
  pc = new RTCPeerConnection({ iceServers: [] });
  channel = pc.createDataChannel("control");
  channel.addEventListener("message", onChannelMessage);
  channel.addEventListener("open", () => { live.state = "streaming"; lastStats = performance.now(); });
  channel.addEventListener("close", lost);
  const transceiver = pc.addTransceiver(camera, { direction: "sendrecv", streams: [stream] });
  sender = transceiver.sender;
  const parameters = sender.getParameters();
  parameters.degradationPreference = "maintain-resolution"; // a slow link lowers frames/s, not the picture size
  await sender.setParameters(parameters).catch(() => {});
  pc.addEventListener("track", (event) => {
    // show each stylized frame as soon as it is decoded: the server already drops late frames
    if ("jitterBufferTarget" in event.receiver) event.receiver.jitterBufferTarget = 0;
    else event.receiver.playoutDelayHint = 0;
    $("remote").srcObject = new MediaStream([event.track]);
    watchRemote($("remote"));
  });
  pc.addEventListener("connectionstatechange", () => {
    if (["failed", "closed", "disconnected"].includes(pc.connectionState)) lost();
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  let answer;
  try {
    const response = await fetch(api("/api/offer"), {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type, ...currentSettings() }),
    });
    // the message is shown before the connection closes: its closing would otherwise read as a lost server
    if (!response.ok) { fail(await refusal(response)); pc.close(); return; }
    answer = await response.json();
  } catch {
    fail("The stylize live server does not answer. Start it (stylize live) and reload this page.");
    pc.close();
    return;
  }
  await pc.setRemoteDescription({ type: answer.type, sdp: withBitrate(answer.sdp) });
  live.page = answer.page;
  // a closed or reloaded tab frees its place on the server at once (not after the connection times out)
  addEventListener("pagehide", () => {
    live.state = "closed";
    navigator.sendBeacon(api("/api/bye"), new Blob([JSON.stringify({ key: answer.key })], { type: "application/json" }));
    pc.close();
  });
  showMessage("");
  $("snapshot").disabled = false;
}

$("strength").addEventListener("input", sendSettings);
$("temporal").addEventListener("input", sendSettings);
$("mix-with").addEventListener("change", () => chooseStyle());
$("balance").addEventListener("input", () => chooseStyle(false)); // each move from the next frame, no fade
$("balance").addEventListener("change", () => showStyleControls()); // the mix's thumbnail once the slider rests
$("pad-open").addEventListener("click", togglePad);
for (const corner of [1, 2, 3]) $(`pad-${corner}`).addEventListener("change", () => chooseStyle());
$("pad").addEventListener("pointerdown", (event) => { $("pad").setPointerCapture(event.pointerId); padPointer(event); });
$("pad").addEventListener("pointermove", (event) => { if ($("pad").hasPointerCapture(event.pointerId)) padPointer(event); });
$("pad").addEventListener("pointerup", () => showStyleControls());
$("pad").addEventListener("keydown", padKey);
$("pad").addEventListener("keyup", (event) => { if (PAD_KEYS[event.key]) showStyleControls(); });
$("snapshot").addEventListener("click", snapshot);
$("train-picture").addEventListener("change", pictureChosen);
$("train-start").addEventListener("click", train);
document.addEventListener("dragover", (event) => {
  event.preventDefault();
  if (!$("trainer").hidden) $("trainer").classList.add("dropping");
});
document.addEventListener("dragleave", (event) => { if (!event.relatedTarget) $("trainer").classList.remove("dropping"); });
document.addEventListener("drop", pictureDropped);
setInterval(updateReadout, 1000);
start().catch((error) => fail(`Unexpected error: ${error.message}`));
