// The PLAYALTER web page: send photos to the API, follow the job, show and download the results.
// Plain browser JavaScript; the API key travels in the Authorization header of every call.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "playalter.apiKey";
let itemNames = [];  // the file name of each job item, by index

function apiKey() {
  return $("api-key").value.trim();
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = `${body.error.message} (${body.error.code})`;
    } catch (ignored) { /* not JSON: keep the status line */ }
    throw new Error(message);
  }
  return response;
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

function parameters(operation) {
  if (operation === "privacy") {
    return {
      mask_type: $("mask-type").value,
      strength: Number($("strength").value),
      create_levels: Number($("levels").value),
      include_audit: $("include-audit").checked,
    };
  }
  if (operation === "analyze") {
    return {
      include_measurements: $("include-measurements").checked,
      include_landmarks: $("include-landmarks").checked,
      include_3d_mesh: $("include-mesh").checked,
      measurement_model: $("measurement-model").value,
      include_sheet: $("include-sheet").checked,
      scale: $("scale").value,
    };
  }
  return {};
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function showItems(job) {
  const list = $("items");
  list.innerHTML = "";
  for (const item of job.items) {
    const entry = document.createElement("li");
    entry.id = `item-${item.index}`;
    list.appendChild(entry);
    updateItem(item);
  }
}

function updateItem(item, progress) {
  const entry = $(`item-${item.index}`);
  if (!entry) return;
  entry.className = `state-${item.state}`;
  const name = itemNames[item.index] || `image ${item.index + 1}`;
  entry.textContent = `${name}: ${item.state}` + (item.error ? ` (${item.error.message})` : "");
  if (progress && item.state === "running") {
    const bar = document.createElement("progress");
    bar.max = progress.nodes_total;
    bar.value = progress.nodes_done;
    entry.appendChild(bar);
  }
}

// Server-Sent Events read from a fetch stream (EventSource cannot send the Authorization header).
async function followEvents(jobId, onEvent) {
  const response = await api(`/api/jobs/${jobId}/events`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

// A picture with its caption and, for results, a download link under the file's own name.
function figure(source, caption, downloadName) {
  const frame = document.createElement("figure");
  const picture = document.createElement("img");
  picture.src = source;
  picture.alt = caption;
  frame.appendChild(picture);
  const label = document.createElement("figcaption");
  label.textContent = caption;
  if (downloadName) {
    picture.className = "result-image";
    const link = document.createElement("a");
    link.href = source;
    link.download = downloadName;
    link.textContent = "download";
    label.append(" ", link);
  }
  frame.appendChild(label);
  return frame;
}

// The caption of result image ``position``: its privacy level when the result has levels, else its node.
function imageCaption(result, image, position) {
  const metadata = result.json.find((entry) => entry.data && Array.isArray(entry.data.levels));
  const level = metadata && metadata.data.levels[position];
  if (level) return `level ${level.level} of ${metadata.data.levels.length}: ${level.name} (strength ${level.strength})`;
  return `${image.title || image.node}: ${image.filename}`;
}

function showResult(title, result, original) {
  const box = document.createElement("div");
  box.className = "result";
  const heading = document.createElement("h3");
  heading.textContent = title;
  box.appendChild(heading);
  for (const warning of result.warnings || []) {
    const note = document.createElement("p");
    note.className = "warning";
    note.textContent = `warning: ${warning}`;
    box.appendChild(note);
  }
  if (result.faces_hidden !== undefined) {
    const count = document.createElement("p");
    count.textContent = `${result.faces_hidden} face(s) hidden`;
    box.appendChild(count);
  }
  const gallery = document.createElement("div");
  gallery.className = "gallery";
  if (original) gallery.appendChild(figure(URL.createObjectURL(original), `original: ${original.name}`));
  result.images.forEach((image, position) => {
    const source = `data:${image.content_type};base64,${image.base64}`;
    gallery.appendChild(figure(source, imageCaption(result, image, position), image.filename));
  });
  box.appendChild(gallery);
  (result.faces || []).filter((face) => face.measurements).forEach((face) => box.appendChild(measurementTable(face)));
  for (const document_ of result.json) {
    const faces = document_.data && Array.isArray(document_.data.faces) ? document_.data.faces : null;
    if (faces) faces.filter((face) => face.measurements).forEach((face) => box.appendChild(measurementTable(face)));
    const text = document.createElement("pre");
    text.className = "result-json";
    text.textContent = JSON.stringify(document_.data, null, 2);
    box.appendChild(text);
  }
  $("results").appendChild(box);
}

// One face's measurements: name, value, +- uncertainty, valid or the reason it is not.
function measurementTable(face) {
  const table = document.createElement("table");
  table.className = "measurements";
  const caption = table.createCaption();
  const scale = face.measurements.scale;
  caption.textContent = `face ${face.index} - ${face.measurements.method}` +
    (scale ? ` - scale: ${scale.source}` + (scale.warning ? ` (warning: ${scale.warning})` : "") : "");
  const head = table.createTHead().insertRow();
  for (const name of ["measurement", "value", "±", "valid"]) {
    const cell = document.createElement("th");
    cell.textContent = name;
    head.appendChild(cell);
  }
  const body = table.createTBody();
  for (const [name, entry] of Object.entries(face.measurements.values)) {
    const row = body.insertRow();
    row.className = entry.valid ? "valid" : "invalid";
    const millimetres = entry.value_mm !== undefined;
    const value = millimetres ? entry.value_mm : entry.value;
    const spread = millimetres ? entry.uncertainty_mm : entry.uncertainty;
    const unit = millimetres ? " mm" : "";
    row.insertCell().textContent = entry.label || name.replace(/_/g, " ");
    row.insertCell().textContent = value === null || value === undefined ? "-" : `${value}${unit}`;
    row.insertCell().textContent = spread === null || spread === undefined ? "" : `± ${spread}${unit}`;
    row.insertCell().textContent = entry.valid ? "yes" : `no: ${entry.reason}`;
  }
  return table;
}

function showError(title, error) {
  const box = document.createElement("div");
  box.className = "result error";
  box.textContent = `${title}: ${error.message} (${error.code})`;
  $("results").appendChild(box);
}

async function runBatch(operation, files) {
  const images = await Promise.all(files.map(readBase64));
  const response = await api("/api/batch/process", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ images_base64: images, operation, parameters: parameters(operation) }),
  });
  const job = await response.json();
  itemNames = files.map((file) => file.name);
  showItems(job);
  setStatus(`job ${job.id}: ${job.state}`);
  await followEvents(job.id, (event, data) => {
    if (event === "job" || event === "done") {
      showItems(data);
      setStatus(`job ${data.id}: ${data.state}`);
    } else if (event === "item") {
      updateItem(data);
    } else if (event === "progress") {
      updateItem({ index: data.index, state: "running" }, data);
    }
  });
  const finished = await (await api(`/api/jobs/${job.id}?include_images=true`)).json();
  finished.items.forEach((item) => {
    const title = files[item.index].name;
    if (item.result) showResult(title, item.result, files[item.index]);
    else if (item.error) showError(title, item.error);
  });
  const link = $("download");
  link.hidden = !finished.items.some((item) => item.result);  // nothing to zip when every item failed
  link.onclick = async (event) => {
    event.preventDefault();
    const blob = await (await api(`/api/jobs/${job.id}/download`)).blob();
    const save = document.createElement("a");
    save.href = URL.createObjectURL(blob);
    save.download = `playalter-${job.id}.zip`;
    save.click();
    URL.revokeObjectURL(save.href);
  };
  setStatus(`job ${finished.id}: ${finished.state}`);
}

async function runSwap(files) {
  const source = $("source-image").files[0];
  if (!source) throw new Error("choose a source photo");
  $("items").innerHTML = "";
  setStatus("swapping...");
  const response = await api("/api/face/swap", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      source_image_base64: await readBase64(source),
      target_image_base64: await readBase64(files[0]),
      source_face_index: Number($("source-index").value),
      target_face_index: Number($("target-index").value),
    }),
  });
  const result = await response.json();
  showResult(`${source.name} onto ${files[0].name}`, result, files[0]);
  setStatus(`done in ${result.seconds} s`);
}

async function run(event) {
  event.preventDefault();
  if ($("remember-key").checked) localStorage.setItem(KEY_STORAGE, apiKey());
  else localStorage.removeItem(KEY_STORAGE);
  const operation = $("operation").value;
  const files = Array.from($("images").files);
  $("results").innerHTML = "";
  $("download").hidden = true;
  $("progress-section").hidden = false;
  $("results-section").hidden = false;
  $("run").disabled = true;
  try {
    if (operation === "swap") await runSwap(files);
    else await runBatch(operation, files);
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    $("run").disabled = false;
  }
}

// Faces of one photo, numbered as the API numbers them (largest first): a small detect job.
async function detectFaces(file) {
  const response = await api("/api/batch/process", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ images_base64: [await readBase64(file)], operation: "detect", parameters: {} }),
  });
  let job = await response.json();
  while (!["completed", "failed", "cancelled"].includes(job.state)) {
    await new Promise((resolve) => setTimeout(resolve, 400));
    job = await (await api(`/api/jobs/${job.id}`)).json();
  }
  const result = job.items[0].result;
  if (!result) throw new Error(job.items[0].error ? job.items[0].error.message : "detection failed");
  const report = result.json.find((entry) => entry.data && Array.isArray(entry.data.faces));
  return report ? report.data.faces : [];
}

// The chosen photos as thumbnails; for a swap, with the face numbers to pick the indices from.
async function previewFiles(input, target) {
  const container = $(target);
  container.innerHTML = "";
  const numbered = $("operation").value === "swap";
  for (const file of Array.from(input.files)) {
    const frame = figure(URL.createObjectURL(file), file.name);
    container.appendChild(frame);
    if (!numbered || !apiKey()) continue;
    const picture = frame.querySelector("img");
    try {
      await picture.decode();
      const faces = await detectFaces(file);
      frame.replaceChild(numberedFaces(picture, faces), picture);
      frame.querySelector("figcaption").textContent = `${file.name}: ${faces.length} face(s), numbered largest first`;
    } catch (error) {
      frame.querySelector("figcaption").textContent = `${file.name} (faces not numbered: ${error.message})`;
    }
  }
}

function numberedFaces(picture, faces) {
  const canvas = document.createElement("canvas");
  canvas.width = picture.naturalWidth;
  canvas.height = picture.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(picture, 0, 0);
  const size = Math.max(14, Math.round(canvas.width / 40));
  context.font = `bold ${size}px sans-serif`;
  context.lineWidth = Math.max(2, size / 8);
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box;
    context.strokeStyle = "#00dc5a";
    context.strokeRect(x1, y1, x2 - x1, y2 - y1);
    context.fillStyle = "#00dc5a";
    context.fillRect(x1, y1 - size - 4, context.measureText(String(face.index)).width + 8, size + 4);
    context.fillStyle = "#000";
    context.fillText(String(face.index), x1 + 4, y1 - 4);
  }
  return canvas;
}

// Grey out operations and options whose model is absent or that are switched off, with the reason.
async function loadCapabilities() {
  if (!apiKey()) return;
  let status;
  try {
    status = await (await api("/api/services/status")).json();
  } catch (error) {
    return;  // a wrong key: the run itself will say so
  }
  const capabilities = status.capabilities;
  for (const option of $("operation").options) {
    const capability = capabilities[option.value];
    if (!capability) continue;
    option.disabled = !capability.usable;
    option.title = capability.reason || "";
  }
  const controls = [
    [$("mask-type").querySelector("option[value=synthetic]"), capabilities.privacy, "mask_type=synthetic"],
    [$("include-mesh"), capabilities.analyze, "include_3d_mesh"],
    [$("measurement-model").querySelector("option[value=flame]"), capabilities.analyze, "measurement_model=flame"],
  ];
  for (const [control, capability, name] of controls) {
    const option = capability && capability.options[name];
    if (!option) continue;
    control.disabled = !option.usable;
    control.title = option.reason || "";
    const note = $(`note-${name.replace(/[^a-z0-9]+/g, "-")}`);
    if (note) note.textContent = option.usable ? "" : `${name.split("=").pop()}: ${option.reason}`;
  }
  $("swap-note").textContent = capabilities.swap && capabilities.swap.reason ? capabilities.swap.reason : "";
}

function chooseOperation() {
  const operation = $("operation").value;
  for (const block of document.querySelectorAll(".params")) {
    block.hidden = block.dataset.operation !== operation;
  }
  const swap = operation === "swap";
  $("images").multiple = !swap;
  $("images-legend").textContent = swap ? "Target photo" : "Images";
  $("images-hint").textContent = swap ? "The photo whose face is replaced." :
    "One or more photos; several run as one batch job.";
}

$("api-key").value = localStorage.getItem(KEY_STORAGE) || "";
$("remember-key").checked = Boolean(localStorage.getItem(KEY_STORAGE));
$("strength").addEventListener("input", () => { $("strength-value").textContent = $("strength").value; });
$("operation").addEventListener("change", chooseOperation);
$("api-key").addEventListener("change", loadCapabilities);
$("images").addEventListener("change", () => previewFiles($("images"), "images-preview"));
$("source-image").addEventListener("change", () => previewFiles($("source-image"), "source-preview"));
$("run-form").addEventListener("submit", run);
chooseOperation();
loadCapabilities();
