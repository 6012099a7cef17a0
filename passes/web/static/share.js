"use strict";
// The card page's referral link: the phone's share sheet where there is one, else the clipboard.
(() => {
  const button = document.getElementById("share");
  if (!button) return;
  const status = document.getElementById("share-status");
  const field = document.getElementById("share-url");
  const data = { title: button.dataset.title, text: button.dataset.text, url: button.dataset.url };
  const canShare = typeof navigator.share === "function" && (!navigator.canShare || navigator.canShare(data));
  button.textContent = canShare ? button.dataset.share : button.dataset.copy;
  button.hidden = false;

  async function copy() {
    try {
      await navigator.clipboard.writeText(data.url);
      status.textContent = button.dataset.copied;
    } catch (error) {
      field.focus();
      field.select();
      status.textContent = button.dataset.failed;
    }
  }

  button.addEventListener("click", async () => {
    status.textContent = "";
    if (!canShare) return copy();
    try {
      await navigator.share(data);
    } catch (error) {
      // The customer closed the share sheet: nothing to say. Anything else: copy instead.
      if (error && error.name !== "AbortError") await copy();
    }
  });
})();
