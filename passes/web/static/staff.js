"use strict";
// The staff page: find a card (camera or typed serial), then stamp, redeem or undo.
// Every tap gets one Idempotency-Key; retries of that tap (automatic, or the next tap of
// the same action after a lost answer) reuse it, so the server stamps once.
(() => {
  const root = document.getElementById("staff");
  if (!root) return;
  const shop = root.dataset.shop;
  const csrf = root.dataset.csrf;
  const T = JSON.parse(root.dataset.texts);
  const $ = (id) => document.getElementById(id);
  const UNDO_MS = 10 * 60 * 1000;
  let current = null;
  let pending = null;
  let busy = false;
  let undoId = null;
  let undoTimer = null;

  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
  const cardPath = (serial) => `/staff/${shop}/cards/${encodeURIComponent(serial)}`;

  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function send(method, path, body, key) {
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) init.body = JSON.stringify(body);
    let failure = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await fetch(path, init);
      } catch (error) {
        failure = error;
        await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)));
      }
    }
    throw failure;
  }

  function setBusy(value) {
    busy = value;
    for (const id of ["stamp1", "stampn", "undo"]) $(id).disabled = value;
    for (const button of $("redeem-tiers").querySelectorAll("button")) button.disabled = value;
  }

  function say(changeText, errorText) {
    $("change").textContent = changeText || "";
    $("error").textContent = errorText || "";
  }

  function show(card) {
    current = card.serial;
    $("card").hidden = false;
    $("card-serial").textContent = card.serial;
    const stamps = card.stamps_required === 1 ? T.page_stamps_one : T.page_stamps;
    $("answer").textContent = fmt(stamps, { stamps: card.stamps, required: card.stamps_required });
    const due = card.due || [];
    const listed = due.map((line) => line.reward + (line.due > 1 ? ` ×${line.due}` : "")).join(" + ");
    $("reward").textContent = due.length ? fmt(T.reward_due, { reward: listed }) : "";
    // One button per due reward, named after it; none when nothing is due.
    const tiers = $("redeem-tiers");
    tiers.replaceChildren();
    for (const line of due) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "big redeem";
      button.textContent = fmt(T.redeem_tier, { reward: line.reward });
      button.addEventListener("click", () => {
        if (current) act("redeem", "POST", `${cardPath(current)}/redeem`, { tier: line.at });
      });
      tiers.appendChild(button);
    }
  }

  // After a failed lookup no card may be acted on: the one shown before is gone too.
  function forget() {
    current = null;
    pending = null;
    hideUndo();
    $("card").hidden = true;
    $("redeem-tiers").replaceChildren();
  }

  function offerUndo(changeId) {
    undoId = changeId;
    $("undo").hidden = false;
    clearTimeout(undoTimer);
    undoTimer = setTimeout(hideUndo, UNDO_MS);
  }

  function hideUndo() {
    undoId = null;
    $("undo").hidden = true;
  }

  async function answer(response) {
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) {
      say("", T.signed_out);
      setTimeout(() => window.location.reload(), 1500);
      return null;
    }
    if (!response.ok) {
      say("", data.error ? data.error.message : response.statusText);
      return null;
    }
    return data;
  }

  async function lookup(serial) {
    const cleaned = serial.trim();
    if (!cleaned || busy) return;
    setBusy(true);
    try {
      const card = await answer(await send("GET", cardPath(cleaned)));
      if (card) {
        hideUndo();
        say("", "");
        show(card);
      } else {
        forget();
      }
    } catch {
      forget();
      say("", T.network_error);
    } finally {
      setBusy(false);
    }
  }

  async function act(kind, method, path, body) {
    if (busy || !current) return;
    const signature = [kind, current, JSON.stringify(body ?? null)].join("|");
    const key = pending && pending.signature === signature ? pending.key : newKey();
    pending = { signature, key };
    setBusy(true);
    say("", "");
    try {
      const response = await send(method, path, body, kind === "undo" ? null : key);
      pending = null;
      const card = await answer(response);
      if (!card) return;
      show(card);
      if (kind === "stamp") {
        // The server says what the card gained (a promotion's or other bonus stamps included).
        say(card.said || fmt(T.stamped, { n: body.count }));
        offerUndo(card.last_change_id);
      } else {
        say(kind === "redeem" ? T.redeemed : T.undone);
        hideUndo();
      }
    } catch {
      say("", T.network_error);
    } finally {
      setBusy(false);
    }
  }

  function stamp(count) {
    if (!current) return;
    act("stamp", "POST", `${cardPath(current)}/stamps`, { count });
  }

  function countValue() {
    const value = parseInt($("count").value, 10);
    return Number.isFinite(value) && value >= 1 ? Math.min(value, 50) : 2;
  }

  $("lookup").addEventListener("submit", (event) => {
    event.preventDefault();
    lookup($("serial").value);
  });
  $("stamp1").addEventListener("click", () => stamp(1));
  $("stampn").addEventListener("click", () => stamp(countValue()));
  $("count").addEventListener("input", () => {
    $("stampn").textContent = fmt(T.stamp_n, { n: countValue() });
  });
  $("undo").addEventListener("click", () => {
    if (current && undoId) act("undo", "DELETE", `${cardPath(current)}/stamps/${undoId}`);
  });

  // Camera: the browser's BarcodeDetector where it reads QR codes, else jsQR served by us.
  let stream = null;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  async function makeDetector() {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return async (video) => {
            const found = await detector.detect(video);
            return found.length ? found[0].rawValue : null;
          };
        }
      } catch {
        // fall through to jsQR
      }
    }
    if (!window.jsQR) await loadScript("/vendor/jsqr.js");
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async (video) => {
      const width = video.videoWidth;
      const height = video.videoHeight;
      if (!width || !height) return null;
      canvas.width = width;
      canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      const image = context.getImageData(0, 0, width, height);
      const code = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
      return code ? code.data : null;
    };
  }

  function stopScan() {
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    $("video").hidden = true;
    $("scan").textContent = T.scan;
  }

  async function startScan() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $("scan-status").textContent = T.camera_unavailable;
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch {
      $("scan-status").textContent = T.camera_unavailable;
      return;
    }
    const video = $("video");
    video.srcObject = stream;
    video.hidden = false;
    $("scan").textContent = T.scan_stop;
    await video.play();
    const detect = await makeDetector();
    const tick = async () => {
      if (!stream) return;
      let value = null;
      try {
        value = await detect(video);
      } catch {
        value = null;
      }
      if (value && stream) {
        stopScan();
        $("serial").value = value;
        lookup(value);
      } else {
        setTimeout(tick, 150);
      }
    };
    tick();
  }

  $("scan").addEventListener("click", () => (stream ? stopScan() : startScan()));
})();
