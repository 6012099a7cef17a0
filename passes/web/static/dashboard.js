// The dashboard: a form's outcome is read out where the page landed. The page scrolls to the
// form's section (the URL's fragment); the notice sits at its top and takes the focus, so a
// screen reader reads it, without moving the page again. Not before "load": going to the
// fragment moves the focus to its (unfocusable) section, which would undo ours.
"use strict";
window.addEventListener("load", () => {
  const notice = document.getElementById("notice");
  if (notice) notice.focus({ preventScroll: true });
});
// A page showing something once (a new webhook's secret) answered a form: reloading it
// loads the dashboard again instead of sending the form twice.
const once = document.querySelector("[data-shown-once]");
if (once) history.replaceState(null, "", once.dataset.shownOnce);
