"use strict";
// Reading QR codes with the camera, shared by the staff page and the card page: the
// browser's BarcodeDetector where it reads QR codes, else jsQR served by us (/vendor/jsqr.js).
// window.passesScanner(video) gives { start(onValue), stop(), running }: start() resolves
// false without a camera; onValue(text) is called per code read, and scanning stops when it
// returns true.
(() => {
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

  window.passesScanner = (video) => {
    let stream = null;

    function stop() {
      if (stream) for (const track of stream.getTracks()) track.stop();
      stream = null;
      video.hidden = true;
    }

    async function start(onValue) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return false;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      } catch {
        stream = null;
        return false;
      }
      video.srcObject = stream;
      video.hidden = false;
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
        if (value && stream && onValue(value)) {
          stop();
        } else {
          setTimeout(tick, 150);
        }
      };
      tick();
      return true;
    }

    return {
      start,
      stop,
      get running() {
        return stream !== null;
      },
    };
  };
})();
