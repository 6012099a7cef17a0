// The card designer's live preview (templates/_design.html): the colours, the stamp symbol and
// a chosen logo show on the Apple pass and the Google card at once, with the contrast checked
// as the server checks it (passes/contrast.py). Nothing is saved until the form is sent.
"use strict";
(() => {
  const form = document.getElementById("design-form");
  if (!form) return;
  const apple = document.getElementById("apple-preview");
  const google = document.getElementById("google-preview");
  const strip = document.getElementById("strip-preview");
  const hero = document.getElementById("hero-preview");
  const appleLogo = document.getElementById("apple-logo");
  const googleLogo = document.getElementById("google-logo");
  const contrast = document.getElementById("contrast");
  const file = document.getElementById("logo");
  const remove = document.getElementById("remove-logo");
  const names = JSON.parse(form.dataset.names);
  const needed = { foreground_color: 4.5, label_color: 4.5, stamp_color: 3 };
  let chosen = null; // the picked file, as a data: URL
  let timer = 0;

  const colour = (key) => form.elements[key].value.toLowerCase();
  const bare = (value) => value.replace("#", "");

  function luminance(hex) {
    const parts = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
    const [r, g, b] = parts.map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function ratio(one, other) {
    const [a, b] = [luminance(one), luminance(other)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? values[key] : whole));
  }

  function checkContrast(background) {
    const found = {};
    let low = null;
    for (const key of Object.keys(needed)) {
      found[key] = Math.floor(ratio(colour(key), background) * 100) / 100;
      if (!low && found[key] < needed[key]) low = key;
    }
    contrast.classList.toggle("error", Boolean(low));
    contrast.textContent = low
      ? fill(form.dataset.contrastLow, { field: names[low], ratio: found[low], needed: needed[low] })
      : fill(form.dataset.contrastOk, {
          text: found.foreground_color, label: found.label_color, stamp: found.stamp_color,
        });
  }

  function stampsQuery() {
    const asked = [];
    if (form.dataset.tiers) asked.push(`tiers=${form.dataset.tiers}`);
    const symbol = form.querySelector("input[name=stamp_symbol]:checked");
    if (symbol && symbol.value !== "check") asked.push(`symbol=${symbol.value}`);
    return asked.length ? `?${asked.join("&")}` : "";
  }

  function pictures(background) {
    const stamps = `${bare(background)}/${bare(colour("stamp_color"))}/${form.dataset.required}/${form.dataset.count}`;
    strip.src = `/img/strip/${stamps}@2x.png${stampsQuery()}`;
    hero.src = `/img/google/hero/${stamps}.png${stampsQuery()}`;
    if (chosen) return;
    const own = form.dataset.digest && !(remove && remove.checked) ? `${form.dataset.digest}/` : "";
    appleLogo.src = own ? `/img/logo/${own}logo@2x.png` : "/img/logo@2x.png";
    googleLogo.src = `/img/google/logo/${own}${bare(background)}.png`;
  }

  function update() {
    const background = colour("background_color");
    for (const card of [apple, google]) card.style.setProperty("--pass-bg", background);
    apple.style.setProperty("--pass-fg", colour("foreground_color"));
    apple.style.setProperty("--pass-label", colour("label_color"));
    // Google picks white or black text for the card's colour itself.
    google.style.setProperty("--pass-fg", luminance(background) > 0.35 ? "#1f1f1f" : "#ffffff");
    checkContrast(background);
    clearTimeout(timer);
    // Dragging a colour sends many input events: the pictures follow once it rests.
    timer = setTimeout(() => pictures(background), 150);
  }

  // The picked file is shown as a data: URL (the page's content security policy allows
  // those for pictures); inside <img> an SVG runs no script.
  file.addEventListener("change", () => {
    const picked = file.files && file.files[0];
    chosen = null;
    google.classList.remove("picked");
    if (!picked) {
      update();
      return;
    }
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      chosen = reader.result;
      appleLogo.src = chosen;
      googleLogo.src = chosen;
      google.classList.add("picked");
      update();
    });
    reader.readAsDataURL(picked);
  });
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
