// The demo merchant page: gets a capture session from its own backend,
// mounts the vault's card frame, and on Pay asks the frame for the token,
// then has the backend confirm it from the session (the browser's word is
// not trusted). ?lang=de for German, ?name=0 to hide the cardholder name.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var lang = params.get("lang") === "de" ? "de" : "en";
  var withName = params.get("name") !== "0";
  var $ = function (id) { return document.getElementById(id); };
  var pay = $("pay"), message = $("message");

  function log(name, detail) {
    var li = document.createElement("li");
    li.textContent = name + " " + JSON.stringify(detail);
    $("events").appendChild(li);
  }

  function say(text) { message.textContent = text; }

  // The session must ask for the name too: a capture sending a name its
  // session did not ask for is refused.
  fetch("/api/session?lang=" + lang + (withName ? "&name=1" : ""), { method: "POST" })
    .then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.error || r.status); return b; }); })
    .then(start)
    .catch(function (e) { say("Could not start the payment: " + e.message); });

  function start(session) {
    var fields = TesseraCapture.mount("#card", {
      session: session.session_id,
      secret: session.client_secret,
      lang: lang,
      fields: { name: withName },
      style: {
        base: { fontSize: "16px", color: "#1f2328", borderColor: "#8c959f", borderRadius: "6px" },
        focus: { borderColor: "#0969da" },
        invalid: { color: "#a40e26", borderColor: "#a40e26" }
      }
    });
    window.demoCheckout = { fields: fields, sessionId: session.session_id };
    ["ready", "change", "focus", "blur", "error", "token"].forEach(function (name) {
      fields.on(name, function (detail) { log(name, detail); });
    });
    fields.on("ready", function () { pay.disabled = false; });
    fields.on("error", function (e) { say(e.message); });

    pay.addEventListener("click", function () {
      pay.disabled = true;
      say("");
      fields.submit().then(function (facts) {
        $("token").textContent = facts.token;
        $("card-facts").textContent = facts.brand + " " + facts.bin + "\u2026" + facts.last4;
        return fetch("/api/session/" + encodeURIComponent(session.session_id))
          .then(function (r) { return r.json(); })
          .then(function (order) {
            var confirmed = (order.cards || []).map(function (c) { return c.token; });
            $("confirmed").textContent = confirmed.join(", ");
            $("state").textContent = order.state;
            $("result").hidden = false;
            say(confirmed.indexOf(facts.token) >= 0 ? "Paid: the backend confirmed the token." : "The backend does not know this token.");
          });
      }, function () {
        pay.disabled = false; // the frame shows the error; the error event said it here too
      });
    });
  }
})();
