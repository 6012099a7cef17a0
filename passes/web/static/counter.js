"use strict";
// The counter screen: asks the server every 2 seconds for the code to show (a new QR code
// every 30 seconds) and the stamps made through this counter since the last one shown.
(() => {
  const root = document.getElementById("till");
  if (!root) return;
  const shop = root.dataset.shop;
  const lang = root.dataset.lang;
  const T = JSON.parse(root.dataset.texts);
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;
  const SHOWN = 20;
  let code = root.dataset.code;
  let endsAt = Date.now() + Number(root.dataset.seconds) * 1000;
  let after = 0;
  let first = true;
  let stopped = false;

  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));

  function countdown() {
    const seconds = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
    $("countdown").textContent = fmt(T.counter_new_code_in, { seconds });
  }

  function signedOut() {
    stopped = true;
    $("till-qr").replaceChildren();
    $("till-qr").hidden = true;
    $("countdown").textContent = "";
    $("till-status").textContent = T.counter_signed_out;
    setTimeout(() => window.location.reload(), 5000);
  }

  function addStamps(stamps) {
    // Newest first from the server; the list keeps the newest on top.
    const list = $("till-list");
    for (const stamp of stamps.slice().reverse()) {
      const item = document.createElement("li");
      const time = new Date(stamp.at).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
      item.textContent = fmt(T.counter_stamp_line, { time, card: stamp.card, stamps: stamp.stamps });
      if (!first) item.className = "new";
      list.prepend(item);
      after = Math.max(after, stamp.id);
    }
    while (list.children.length > SHOWN) list.lastElementChild.remove();
    $("till-none").hidden = list.children.length > 0;
  }

  async function poll() {
    if (stopped) return;
    try {
      const url = `/counter/${shop}/now?after=${after}&have=${encodeURIComponent(code)}`;
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) {
        signedOut();
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      if (data.svg) $("till-qr").innerHTML = data.svg;
      code = data.code;
      endsAt = Date.now() + data.seconds_left * 1000;
      addStamps(data.stamps);
      first = false;
      $("till-status").textContent = "";
    } catch {
      $("till-status").textContent = T.counter_offline;
    }
    setTimeout(poll, POLL_MS);
  }

  setInterval(countdown, 250);
  poll();
})();
