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

  // Camera: the shared scanner (scanner.js); the first code read is looked up.
  const scanner = window.passesScanner($("video"));

  function stopScan() {
    scanner.stop();
    $("scan").textContent = T.scan;
  }

  async function startScan() {
    $("scan").textContent = T.scan_stop;
    const started = await scanner.start((value) => {
      $("scan").textContent = T.scan;
      $("serial").value = value;
      lookup(value);
      return true;
    });
    if (!started) {
      $("scan").textContent = T.scan;
      $("scan-status").textContent = T.camera_unavailable;
    }
  }

  $("scan").addEventListener("click", () => (scanner.running ? stopScan() : startScan()));
})();
