// Tessera capture loader: the one script a merchant page includes (pinned by
// its SRI hash). It mounts the vault's card frame and relays its events; it
// never sees a card number, only token facts, field state and errors.
//
//   const fields = TesseraCapture.mount("#card", {session, secret, style, lang, fields});
//   fields.on("token", facts => ...);
//   const facts = await fields.submit();
(function () {
  "use strict";

  var script = document.currentScript;
  // The frame lives beside this script: .../capture/v1/tessera-capture.js -> .../capture/v1/frame
  var FRAME_URL = script && script.src ? new URL(script.src.replace(/tessera-capture\.js(?:[?#].*)?$/, "frame")) : null;
  var EVENTS = ["ready", "change", "focus", "blur", "error", "token"];
  var TITLES = { en: "Secure card payment input", de: "Sichere Eingabe der Kartendaten" };
  // A frame that loaded says ready at once, but a busy phone (or a loaded CI
  // machine: 5 s once failed the browser suite) can take seconds to run its
  // script; one that never loads is given longer.
  var READY_AFTER_LOAD_MS = 15000, LOAD_TIMEOUT_MS = 30000;

  function fault(code, message) {
    var error = new Error(message);
    error.code = code;
    return error;
  }

  function mount(target, options) {
    if (!FRAME_URL) throw fault("loader_unplaced", "TesseraCapture: load tessera-capture.js with a <script src> from the vault");
    options = options || {};
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host || !host.appendChild) throw fault("mount_target", "TesseraCapture: no element matches " + String(target));
    var session = options.session, secret = options.secret;
    if (typeof session !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(session)) throw fault("session", "TesseraCapture: options.session is not a session id");
    if (typeof secret !== "string" || !secret) throw fault("secret", "TesseraCapture: options.secret is missing");
    var lang = typeof options.lang === "string" ? options.lang.toLowerCase() : null;

    var src = new URL(FRAME_URL.href);
    src.search = "?session=" + encodeURIComponent(session) + (lang ? "&lang=" + encodeURIComponent(lang) : "");
    var frameOrigin = src.origin;

    var iframe = document.createElement("iframe");
    iframe.src = src.href;
    iframe.title = TITLES[(lang || document.documentElement.lang || "en").split("-")[0]] || TITLES.en;
    iframe.setAttribute("scrolling", "no");
    iframe.referrerPolicy = "no-referrer";
    iframe.allow = "";
    // CSSOM, not a style attribute: works under a merchant CSP without 'unsafe-inline'.
    iframe.style.setProperty("border", "0");
    iframe.style.setProperty("width", "100%");
    iframe.style.setProperty("display", "block");
    iframe.style.setProperty("overflow", "hidden");
    iframe.style.setProperty("height", "0");

    var handlers = {};
    EVENTS.forEach(function (name) { handlers[name] = []; });
    var waiting = null; // {resolve, reject} of the pending submit()
    var ready = false, destroyed = false, broken = null, queued = [];

    function emit(name, detail) {
      handlers[name].slice().forEach(function (fn) {
        try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); }
      });
    }

    function send(msg) {
      if (destroyed) return;
      if (!ready && msg.type !== "init") { queued.push(msg); return; }
      msg.tessera = 1;
      iframe.contentWindow.postMessage(msg, frameOrigin);
    }

    function onMessage(event) {
      if (event.source !== iframe.contentWindow || event.origin !== frameOrigin) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.tessera !== 1) return;
      switch (data.type) {
        case "ready":
          ready = true;
          clearTimeout(timer);
          queued.splice(0).forEach(send);
          emit("ready", {});
          break;
        case "resize":
          if (typeof data.height === "number" && data.height >= 0 && data.height < 5000) {
            iframe.style.setProperty("height", Math.ceil(data.height) + "px");
          }
          break;
        case "change":
          emit("change", { brand: String(data.brand), empty: !!data.empty, complete: !!data.complete, valid: !!data.valid });
          break;
        case "focus":
        case "blur":
          emit(data.type, { field: String(data.field) });
          break;
        case "token":
          var facts = {
            token: data.token, bin: data.bin, last4: data.last4, brand: data.brand,
            expires_at: data.expires_at === undefined ? null : data.expires_at
          };
          if (waiting) { waiting.resolve(facts); waiting = null; }
          emit("token", facts);
          break;
        case "error":
          var detail = { code: String(data.code), message: String(data.message) };
          if (waiting) { waiting.reject(fault(detail.code, detail.message)); waiting = null; }
          emit("error", detail);
          break;
      }
    }
    window.addEventListener("message", onMessage);

    // A frame that never says ready (refused by frame-ancestors, unknown
    // session, network) is reported once, as an error.
    function unavailable() {
      if (ready || destroyed || broken) return;
      var detail = broken = { code: "frame_unavailable", message: "The card form could not be loaded." };
      if (waiting) { waiting.reject(fault(detail.code, detail.message)); waiting = null; }
      emit("error", detail);
    }
    var timer = setTimeout(unavailable, LOAD_TIMEOUT_MS);

    // Each load of the frame gets the init (a reloaded frame starts afresh).
    iframe.addEventListener("load", function () {
      var init = { type: "init", secret: secret };
      if (options.style) init.style = options.style;
      if (lang) init.lang = lang;
      if (options.fields) init.fields = { name: options.fields.name === true };
      send(init);
      if (!ready) { clearTimeout(timer); timer = setTimeout(unavailable, READY_AFTER_LOAD_MS); }
    });

    host.appendChild(iframe);

    var api = {
      /** Subscribes to ready, change, focus, blur, error or token; returns this. */
      on: function (name, fn) {
        if (!handlers[name]) throw fault("event", "TesseraCapture: unknown event " + String(name));
        if (typeof fn === "function") handlers[name].push(fn);
        return api;
      },
      /** Removes a handler added with on(). */
      off: function (name, fn) {
        if (handlers[name]) handlers[name] = handlers[name].filter(function (h) { return h !== fn; });
        return api;
      },
      /** Asks the frame to capture the card: resolves with the token facts, rejects with {code, message}. */
      submit: function () {
        if (destroyed) return Promise.reject(fault("destroyed", "TesseraCapture: unmounted"));
        if (broken) return Promise.reject(fault(broken.code, broken.message));
        if (waiting) return waiting.promise;
        var w = {};
        w.promise = new Promise(function (resolve, reject) { w.resolve = resolve; w.reject = reject; });
        waiting = w;
        send({ type: "submit" });
        return w.promise;
      },
      /** Moves focus into the frame (the first invalid field, or the card number). */
      focus: function () { iframe.focus(); send({ type: "focus" }); return api; },
      /** Empties the fields (to capture another card in a session that allows it). */
      clear: function () { send({ type: "clear" }); return api; },
      /** Removes the frame and every listener. */
      destroy: function () {
        destroyed = true;
        clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
        if (waiting) { waiting.reject(fault("destroyed", "TesseraCapture: unmounted")); waiting = null; }
      },
      /** The iframe element (for layout only: its content is another origin). */
      element: iframe
    };
    return api;
  }

  window.TesseraCapture = Object.freeze({ version: "1", mount: mount });
})();
