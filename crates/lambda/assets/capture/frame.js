// Tessera card frame (/capture/v1/frame), on the vault's origin: the only
// code that sees the card number. It posts the card to ../../v1/capture
// (same origin) and tells the merchant page only token facts, field state
// and errors. No third-party code, no build step.
(function () {
  "use strict";

  var root = document.documentElement;
  // The frame HTML is a template: the capture function fills these four
  // attributes (HTML-escaped) and nothing else.
  var SESSION = attr("data-session");
  var ORIGINS = attr("data-origins").split(/\s+/).filter(Boolean);
  var STATE = attr("data-state");

  // -- strings

  var STRINGS = {
    en: {
      title: "Card details",
      number: "Card number",
      expiry: "Expiry date (MM/YY)",
      expiryPlaceholder: "MM / YY",
      name: "Name on card",
      saved: "Card details saved.",
      sending: "Sending card details\u2026",
      errors: {
        number_required: "Enter the card number.",
        number_incomplete: "The card number is incomplete.",
        number_invalid: "The card number is not valid. Check it and try again.",
        expiry_required: "Enter the expiry date.",
        expiry_incomplete: "The expiry date is incomplete.",
        expiry_invalid: "Enter the expiry date as MM/YY, with a month from 01 to 12.",
        expiry_past: "The card has expired.",
        expiry_far: "The expiry date is too far in the future.",
        name_invalid: "Enter the name as it is written on the card.",
        session_used: "This payment form has already been used. Reload the page to start again.",
        session_expired: "This payment form has expired. Reload the page to start again.",
        session_burned: "This payment form is locked after too many failed attempts. Reload the page to start again.",
        unauthorized: "This payment form could not be authorized. Reload the page to start again.",
        rate_limited: "Too many attempts. Wait a moment and try again.",
        network: "The card details could not be sent. Check your connection and try again.",
        server: "The card details could not be saved. Try again."
      }
    },
    de: {
      title: "Kartendaten",
      number: "Kartennummer",
      expiry: "Ablaufdatum (MM/JJ)",
      expiryPlaceholder: "MM / JJ",
      name: "Name auf der Karte",
      saved: "Kartendaten gespeichert.",
      sending: "Kartendaten werden gesendet\u2026",
      errors: {
        number_required: "Geben Sie die Kartennummer ein.",
        number_incomplete: "Die Kartennummer ist unvollst\u00e4ndig.",
        number_invalid: "Die Kartennummer ist ung\u00fcltig. Pr\u00fcfen Sie sie und versuchen Sie es erneut.",
        expiry_required: "Geben Sie das Ablaufdatum ein.",
        expiry_incomplete: "Das Ablaufdatum ist unvollst\u00e4ndig.",
        expiry_invalid: "Geben Sie das Ablaufdatum als MM/JJ ein, mit einem Monat von 01 bis 12.",
        expiry_past: "Die Karte ist abgelaufen.",
        expiry_far: "Das Ablaufdatum liegt zu weit in der Zukunft.",
        name_invalid: "Geben Sie den Namen so ein, wie er auf der Karte steht.",
        session_used: "Dieses Zahlungsformular wurde bereits verwendet. Laden Sie die Seite neu, um neu zu beginnen.",
        session_expired: "Dieses Zahlungsformular ist abgelaufen. Laden Sie die Seite neu, um neu zu beginnen.",
        session_burned: "Dieses Zahlungsformular ist nach zu vielen Fehlversuchen gesperrt. Laden Sie die Seite neu, um neu zu beginnen.",
        unauthorized: "Dieses Zahlungsformular konnte nicht autorisiert werden. Laden Sie die Seite neu, um neu zu beginnen.",
        rate_limited: "Zu viele Versuche. Warten Sie einen Moment und versuchen Sie es erneut.",
        network: "Die Kartendaten konnten nicht gesendet werden. Pr\u00fcfen Sie Ihre Verbindung und versuchen Sie es erneut.",
        server: "Die Kartendaten konnten nicht gespeichert werden. Versuchen Sie es erneut."
      }
    }
  };
  var BRAND_NAMES = {
    visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover",
    jcb: "JCB", diners: "Diners Club", unionpay: "UnionPay", maestro: "Maestro"
  };

  // -- card rules (the same ranges as crates/core/src/brand.rs)

  function detectBrand(d) {
    var p = function (n) { return d.length >= n ? parseInt(d.slice(0, n), 10) : -1; };
    var p1 = p(1), p2 = p(2), p3 = p(3), p4 = p(4), p6 = p(6);
    if (p4 === 6011 || (p6 >= 622126 && p6 <= 622925) || (p3 >= 644 && p3 <= 649) || p2 === 65) return "discover";
    if (p2 === 34 || p2 === 37) return "amex";
    if (p4 >= 3528 && p4 <= 3589) return "jcb";
    if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return "diners";
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return "mastercard";
    if (p1 === 4) return "visa";
    if (p2 === 62 || p2 === 81) return "unionpay";
    if (p2 === 50 || (p2 >= 56 && p2 <= 58) || p4 === 6304 || p4 === 6759 || (p4 >= 6761 && p4 <= 6763)) return "maestro";
    return "unknown";
  }

  function range(a, b) { var r = []; for (var i = a; i <= b; i++) r.push(i); return r; }
  // Lengths each brand issues (ISO/IEC 7812 allows 12 to 19 digits).
  var LENGTHS = {
    visa: [13, 16, 19], mastercard: [16], amex: [15], discover: range(16, 19), jcb: range(16, 19),
    diners: range(14, 19), unionpay: range(16, 19), maestro: range(12, 19), unknown: range(12, 19)
  };

  function groupsFor(brand, len) {
    if (brand === "amex") return [4, 6, 5];
    if (brand === "diners" && len <= 14) return [4, 6, 4];
    return [4, 4, 4, 4, 3];
  }

  function formatNumber(digits, brand) {
    var groups = groupsFor(brand, digits.length), out = [], at = 0;
    for (var i = 0; i < groups.length && at < digits.length; i++) {
      out.push(digits.slice(at, at + groups[i]));
      at += groups[i];
    }
    return out.join(" ");
  }

  function luhn(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var n = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2 === 1) { n *= 2; if (n > 9) n -= 9; }
      sum += n;
    }
    return sum % 10 === 0;
  }

  // The number's state: what the merchant may learn (brand, empty, complete,
  // valid) and the error to show when the shopper leaves the field.
  function numberState(digits) {
    var brand = digits.length ? detectBrand(digits) : "unknown";
    var lengths = LENGTHS[brand], max = lengths[lengths.length - 1];
    var allowed = lengths.indexOf(digits.length) >= 0, ok = allowed && luhn(digits);
    var error = null;
    if (!digits.length) error = "number_required";
    else if (!ok) error = digits.length < lengths[0] || (!allowed && digits.length < max) ? "number_incomplete" : "number_invalid";
    // Shown while typing only once nothing more can be typed.
    var final = digits.length >= max || ok;
    return { brand: brand, max: max, valid: ok, complete: ok, error: error, final: final };
  }

  // MM/YY, valid through the end of the month (UTC), at most ten years (of
  // 366 days) away: the rule of crates/core/src/expiry.rs.
  function expiryState(text) {
    var m = /^(\d\d) \/ (\d\d)$/.exec(text);
    if (!text) return { error: "expiry_required", value: null };
    if (!m) return { error: text.replace(/\D/g, "").length < 4 ? "expiry_incomplete" : "expiry_invalid", value: null };
    var month = parseInt(m[1], 10), year = 2000 + parseInt(m[2], 10);
    if (month < 1 || month > 12) return { error: "expiry_invalid", value: null };
    var end = Date.UTC(year, month, 1), now = Date.now();
    if (end <= now) return { error: "expiry_past", value: null };
    if (end - now > 10 * 366 * 86400 * 1000) return { error: "expiry_far", value: null };
    return { error: null, value: m[1] + "/" + m[2] };
  }

  function nameState(text) {
    var t = text.trim();
    if (!t) return { error: null, value: null };
    // A card number typed into the name field must not leave as a name.
    if (t.length > 64 || /\d[\d \-]{10,}\d/.test(t) || /[\u0000-\u001f\u007f]/.test(t)) return { error: "name_invalid", value: null };
    return { error: null, value: t };
  }

  // -- merchant style: an allow-list, applied through the CSSOM

  var STYLE_PROPERTIES = ("color background-color border-color border-radius border-width caret-color font-family " +
    "font-size font-style font-weight letter-spacing line-height padding placeholder-color").split(" ");
  var STYLE_STATES = ["base", "focus", "invalid"];
  // Anything that could load a resource, escape the declaration or reach
  // another rule is refused outright, before the browser parses the value.
  var STYLE_REFUSED = /url\(|expression\(|image(-set)?\(|var\(|env\(|attr\(|src\(|[;{}\\<>@]|\/\*|[\u0000-\u001f\u007f]/i;

  function kebab(name) { return name.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); }); }

  // Returns the declarations refused (by name), applies the rest as custom
  // properties on the root that frame.css reads for each state.
  function applyStyle(style) {
    var refused = [];
    if (!style || typeof style !== "object") return refused;
    Object.keys(style).forEach(function (state) {
      var decls = style[state];
      if (STYLE_STATES.indexOf(state) < 0 || !decls || typeof decls !== "object") { refused.push(state); return; }
      Object.keys(decls).forEach(function (key) {
        var name = kebab(key), value = decls[key];
        var property = STYLE_PROPERTIES.indexOf(name) < 0 ? null : name === "placeholder-color" ? "color" : name;
        if (typeof value === "number" && isFinite(value)) value = String(value);
        if (!property || typeof value !== "string" || value.length > 120 || STYLE_REFUSED.test(value) ||
            !(window.CSS && CSS.supports(property, value))) {
          refused.push(state + "." + key);
          return;
        }
        root.style.setProperty("--" + state + "-" + name, value);
      });
    });
    return refused;
  }

  // -- the DOM

  function $(id) { return document.getElementById(id); }
  var form = $("card"), number = $("number"), expiry = $("expiry"), name = $("name");
  var brandBadge = $("brand"), status = $("status"), announcer = $("announce");
  var FIELDS = { number: number, expiry: expiry, name: name };

  var lang = pickLang(root.getAttribute("lang"));
  var showName = false;
  var errors = { number: null, expiry: null, name: null }; // codes shown under each field
  var statusCode = null; // the form-level message (code or "saved"/"sending")

  function attr(name) {
    var v = root.getAttribute(name) || "";
    return /\{\{/.test(v) ? "" : v; // an unfilled template is no session
  }

  function pickLang(value) {
    var base = String(value || "").toLowerCase().split("-")[0];
    return STRINGS.hasOwnProperty(base) ? base : "en";
  }

  function t() { return STRINGS[lang]; }
  function message(code) { return t().errors[code] || t().errors.server; }

  function render() {
    var s = t();
    root.setAttribute("lang", lang);
    document.title = s.title;
    $("number-label").textContent = s.number;
    $("expiry-label").textContent = s.expiry;
    $("name-label").textContent = s.name;
    expiry.setAttribute("placeholder", s.expiryPlaceholder);
    $("name-field").hidden = !showName;
    Object.keys(errors).forEach(function (field) {
      var code = errors[field], el = FIELDS[field];
      $(field + "-error").textContent = code ? message(code) : "";
      el.setAttribute("aria-invalid", code ? "true" : "false");
    });
    status.textContent = statusCode ? (s[statusCode] || message(statusCode)) : "";
    status.className = "status" + (statusCode && !s[statusCode] ? " is-error" : "");
  }

  function setError(field, code, announce) {
    if (errors[field] === code) return;
    errors[field] = code;
    render();
    if (code && announce) announcer.textContent = message(code);
  }

  // -- talking to the merchant page

  var parentOrigin = null; // fixed by the first accepted init
  var secret = null; // this closure is the only place it lives
  var pendingError = null; // a closed session, told once the parent is known

  function post(msg) {
    if (parentOrigin === null) return;
    msg.tessera = 1;
    window.parent.postMessage(msg, parentOrigin);
  }

  function postError(code) { post({ type: "error", code: code, message: message(code) }); }

  var lastChange = "";
  function postChange() {
    var st = numberState(digitsOf(number.value));
    var ex = expiryState(expiry.value), nm = nameState(name.value);
    var empty = !number.value && !expiry.value && !(showName && name.value.trim());
    var complete = st.complete && !ex.error && !(showName && nm.error);
    var state = { type: "change", brand: st.brand, empty: empty, complete: complete, valid: complete };
    var key = JSON.stringify(state);
    if (key !== lastChange) { lastChange = key; post(state); }
  }

  var lastHeight = 0;
  function postResize() {
    var h = Math.ceil(document.body.getBoundingClientRect().height);
    if (h !== lastHeight) { lastHeight = h; post({ type: "resize", height: h }); }
  }

  window.addEventListener("message", function (event) {
    if (window.parent === window || event.source !== window.parent) return;
    var data = event.data;
    if (!data || typeof data !== "object" || data.tessera !== 1 || typeof data.type !== "string") return;
    if (parentOrigin === null) {
      if (data.type !== "init" || ORIGINS.indexOf(event.origin) < 0) return;
      parentOrigin = event.origin;
      init(data);
      return;
    }
    if (event.origin !== parentOrigin) return;
    if (data.type === "submit") submit();
    else if (data.type === "focus") focusFirst();
    else if (data.type === "clear") clear();
    // a second init, or anything else, is ignored
  });

  // Asks the page for its init, in case the one sent on load was lost: to each
  // origin the session names (postMessage drops it for any other parent), and
  // carrying nothing.
  if (window.parent !== window) {
    ORIGINS.forEach(function (origin) {
      try { window.parent.postMessage({ tessera: 1, type: "hello" }, origin); } catch (e) { /* not a URL */ }
    });
  }

  function init(data) {
    if (typeof data.secret === "string" && /^[\x21-\x7e]{16,256}$/.test(data.secret)) secret = data.secret;
    if (typeof data.lang === "string" && STRINGS.hasOwnProperty(data.lang)) lang = data.lang;
    showName = !!(data.fields && data.fields.name === true);
    var refused = applyStyle(data.style);
    if (refused.length && window.console) console.warn("Tessera: style refused: " + refused.join(", "));
    render();
    if (!pendingError && secret === null) close("unauthorized");
    post({ type: "ready" });
    postResize();
    postChange();
    if (pendingError) postError(pendingError);
    if (window.ResizeObserver) new ResizeObserver(postResize).observe(document.body);
  }

  // -- input handling

  function digitsOf(text) { return text.replace(/\D/g, ""); }

  // Puts the caret after the same number of digits as before reformatting.
  function placeCaret(el, digitsBefore) {
    if (document.activeElement !== el) return;
    var v = el.value, p = 0, seen = 0;
    while (p < v.length && seen < digitsBefore) { if (v[p] >= "0" && v[p] <= "9") seen++; p++; }
    el.setSelectionRange(p, p);
  }

  function onNumberInput() {
    var before = digitsOf(number.value.slice(0, number.selectionStart || 0)).length;
    var digits = digitsOf(number.value);
    var st = numberState(digits);
    if (digits.length > st.max) { digits = digits.slice(0, st.max); st = numberState(digits); }
    number.value = formatNumber(digits, st.brand);
    placeCaret(number, before);
    brandBadge.setAttribute("data-brand", st.brand);
    brandBadge.textContent = st.brand === "unknown" ? "" : BRAND_NAMES[st.brand];
    // While typing: clear an error as soon as it is fixed; show one only
    // when the number cannot grow into a valid one.
    if (!st.error) setError("number", null);
    else if (st.final && digits.length) setError("number", st.error, true);
    else if (errors.number) setError("number", null);
    postChange();
  }

  function onExpiryInput(event) {
    var raw = expiry.value, digits = digitsOf(raw), deleting = event && /^delete/.test(event.inputType || "");
    var caret = expiry.selectionStart, atEnd = caret === raw.length, before = digitsOf(raw.slice(0, caret || 0)).length;
    // Autofill may give MM/YY, MM/YYYY or M/YY.
    var m = /^\s*(\d{1,2})\s*[\/\-.]\s*(\d{2}|\d{4})\s*$/.exec(raw);
    var text;
    if (m) {
      text = (m[1].length === 1 ? "0" + m[1] : m[1]) + " / " + m[2].slice(-2);
    } else {
      if (/^\s*\d\s*[\/\-.]\s*$/.test(raw) || (digits.length === 1 && digits > "1")) digits = "0" + digits;
      digits = digits.slice(0, 4);
      text = digits.length > 2 || (digits.length === 2 && !deleting) ? digits.slice(0, 2) + " / " + digits.slice(2) : digits;
    }
    expiry.value = text;
    if (atEnd) { if (document.activeElement === expiry) expiry.setSelectionRange(text.length, text.length); }
    else placeCaret(expiry, before);
    var st = expiryState(text);
    if (!st.error) setError("expiry", null);
    else if (digitsOf(text).length === 4) setError("expiry", st.error, true);
    else if (errors.expiry) setError("expiry", null);
    postChange();
  }

  function onNameInput() {
    if (!nameState(name.value).error) setError("name", null);
    postChange();
  }

  // Enter submits. In the number, Backspace over a group space deletes the
  // digit before it (reformatting would put the space straight back).
  function onKeydown(event) {
    if (event.key === "Enter") { event.preventDefault(); submit(); return; }
    if (event.target !== number || (event.key !== "Backspace" && event.key !== "Delete")) return;
    var s = number.selectionStart, e = number.selectionEnd, v = number.value;
    if (s !== e) return;
    var at = event.key === "Backspace" ? s - 1 : s;
    if (v[at] !== " ") return;
    event.preventDefault();
    var digitAt = event.key === "Backspace" ? at - 1 : at + 1;
    if (digitAt < 0 || digitAt >= v.length) return;
    var before = digitsOf(v.slice(0, digitAt)).length;
    number.value = v.slice(0, digitAt) + v.slice(digitAt + 1);
    onNumberInput();
    placeCaret(number, before);
  }

  function validateField(field, required) {
    var code = null;
    if (field === "number") code = numberState(digitsOf(number.value)).error;
    else if (field === "expiry") code = expiryState(expiry.value).error;
    else if (field === "name") code = showName ? nameState(name.value).error : null;
    // Leaving an empty field is not an error yet; submitting it is.
    if (!required && (field === "name" ? !name.value.trim() : !FIELDS[field].value)) code = null;
    setError(field, code, true);
    return code;
  }

  number.addEventListener("input", onNumberInput);
  number.addEventListener("keydown", onKeydown);
  expiry.addEventListener("input", onExpiryInput);
  expiry.addEventListener("keydown", onKeydown);
  name.addEventListener("input", onNameInput);
  name.addEventListener("keydown", onKeydown);
  form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  Object.keys(FIELDS).forEach(function (field) {
    var el = FIELDS[field];
    el.addEventListener("focus", function () { form.setAttribute("data-focus", field); post({ type: "focus", field: field }); });
    el.addEventListener("blur", function () {
      form.removeAttribute("data-focus");
      if (phase === "editing") validateField(field, false);
      post({ type: "blur", field: field });
    });
  });

  function focusFirst() {
    var order = ["number", "expiry", "name"];
    for (var i = 0; i < order.length; i++) {
      if (errors[order[i]] && !FIELDS[order[i]].disabled) { FIELDS[order[i]].focus(); return; }
    }
    if (!number.disabled) number.focus();
  }

  // -- capture

  // editing -> submitting -> captured (-> editing again on clear, if the
  // session allows more cards); closed when the session refuses for good.
  var phase = "editing";
  var captured = null; // the token facts of the last capture

  function setPhase(next) {
    phase = next;
    form.setAttribute("data-phase", next);
    form.setAttribute("aria-busy", next === "submitting" ? "true" : "false");
    [number, expiry, name].forEach(function (el) {
      el.readOnly = next === "submitting" || next === "captured";
      el.disabled = next === "closed";
    });
  }

  function close(code) {
    setPhase("closed");
    statusCode = code;
    render();
    pendingError = code;
  }

  function submit() {
    if (phase === "submitting") return;
    if (phase === "closed") { postError(pendingError); return; }
    if (phase === "captured") { post(captured); return; }
    var first = null;
    ["number", "expiry", "name"].forEach(function (field) {
      var code = validateField(field, field !== "name");
      if (code && !first) first = code;
    });
    if (first) {
      announcer.textContent = "";
      setTimeout(function () { announcer.textContent = message(first); }, 50);
      focusFirst();
      postError(first);
      return;
    }
    var body = { pan: digitsOf(number.value), expiry: expiryState(expiry.value).value };
    var holder = showName ? nameState(name.value).value : null;
    if (holder) body.cardholder_name = holder;
    setPhase("submitting");
    statusCode = "sending";
    render();
    var url = new URL("../../v1/capture", location.href);
    url.search = "?session=" + encodeURIComponent(SESSION);
    fetch(url.href, {
      method: "POST",
      headers: { "Authorization": "Bearer " + secret, "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
      referrerPolicy: "no-referrer"
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) { onAnswer(response.status, json); });
    }, function () {
      fail("network", false);
    });
  }

  function str(v) { return typeof v === "string" ? v : null; }

  function onAnswer(code, json) {
    json = json && typeof json === "object" ? json : {};
    if (code === 201 && str(json.token)) {
      captured = {
        type: "token", token: json.token, bin: str(json.bin), last4: str(json.last4),
        brand: str(json.brand), expires_at: str(json.expires_at)
      };
      setPhase("captured");
      // The number leaves the DOM once it is in the vault.
      number.value = "\u2022\u2022\u2022\u2022 " + (captured.last4 || "");
      statusCode = "saved";
      render();
      post(captured);
      return;
    }
    if (code === 401) return fail("unauthorized", true);
    if (code === 410) return fail(closedKind(json), true);
    if (code === 403 || code === 429) return fail("rate_limited", false);
    if (code === 400 || code === 422) {
      // A rule the frame could not check (the vault's clock, say): shown on
      // the field the problem names.
      var what = (str(json.type) || "") + " " + (str(json.detail) || "");
      var field = /expir/i.test(what) ? "expiry" : /cardholder|name/i.test(what) ? "name" : "number";
      var fieldCode = field === "expiry" ? (/already|past/i.test(what) ? "expiry_past" : "expiry_invalid") : field + "_invalid";
      setPhase("editing");
      statusCode = null;
      setError(field, fieldCode, true);
      focusFirst();
      return postError(fieldCode);
    }
    fail("server", false);
  }

  // 410: the detail says whether the session is used, expired or burned.
  function closedKind(json) {
    var what = ((str(json.state) || "") + " " + (str(json.detail) || "") + " " + (str(json.type) || "")).toLowerCase();
    if (/burn|attempt/.test(what)) return "session_burned";
    if (/expire/.test(what)) return "session_expired";
    return "session_used";
  }

  function fail(code, final) {
    if (final) close(code);
    else { setPhase("editing"); statusCode = code; render(); }
    postError(code);
  }

  function clear() {
    if (phase === "closed" || phase === "submitting") return;
    number.value = expiry.value = name.value = "";
    brandBadge.textContent = "";
    brandBadge.setAttribute("data-brand", "unknown");
    errors = { number: null, expiry: null, name: null };
    statusCode = null;
    captured = null;
    setPhase("editing");
    render();
    postChange();
  }

  // -- start

  setPhase("editing");
  if (!SESSION || !ORIGINS.length) close("unauthorized");
  else if (STATE === "used" || STATE === "expired" || STATE === "burned") close("session_" + STATE);
  else pendingError = null;
  render();
})();
