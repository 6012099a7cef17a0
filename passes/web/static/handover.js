"use strict";
// Open the wallet's save link at once; the link stays for browsers that block this.
document.addEventListener("DOMContentLoaded", () => {
  const link = document.getElementById("handover");
  if (link) window.location.assign(link.href);
});
