"use strict";
// The card page's "Scan the code at the counter": reads the counter screen's QR code with the
// camera (scanner.js) and opens it, only if it is this shop's counter link on this site.
(() => {
  const root = document.getElementById("card-scan");
  if (!root || !window.passesScanner) return;
  const $ = (id) => document.getElementById(id);
  const button = $("card-scan-button");
  const status = $("card-scan-status");
  const scanner = window.passesScanner($("card-scan-video"));
  const origins = new Set([window.location.origin]);
  try {
    origins.add(new URL(root.dataset.base).origin);
  } catch {
    // no configured base URL: this page's origin only
  }
  root.hidden = false;

  function counterLink(value) {
    let url;
    try {
      url = new URL(value);
    } catch {
      return null;
    }
    const ours = origins.has(url.origin) && url.pathname.startsWith(root.dataset.prefix);
    return ours && !url.search && !url.hash ? url.href : null;
  }

  async function start() {
    button.textContent = root.dataset.stop;
    const started = await scanner.start((value) => {
      const link = counterLink(value);
      if (!link) {
        status.textContent = root.dataset.notCounter;
        return false;
      }
      button.textContent = root.dataset.scan;
      window.location.assign(link);
      return true;
    });
    if (!started) {
      button.textContent = root.dataset.scan;
      status.textContent = root.dataset.unavailable;
    }
  }

  button.addEventListener("click", () => {
    if (scanner.running) {
      scanner.stop();
      button.textContent = root.dataset.scan;
    } else {
      start();
    }
  });
})();
