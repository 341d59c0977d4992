/* Passkeys in the browser (WebAuthn): "Sign in with a passkey" on the sign-in page, and
   "Add a passkey" on the security page. The server gives the options as JSON (base64url
   fields) and takes the credential back as JSON; this file only converts between the two and
   the browser's ArrayBuffers. No inline script: the CSP allows none. */
"use strict";
(function () {
  function bytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function text(buffer) {
    var view = new Uint8Array(buffer);
    var s = "";
    for (var i = 0; i < view.length; i++) s += String.fromCharCode(view[i]);
    return window.btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: bytes(c.id), transports: c.transports };
    });
  }
  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = text(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = text(r.authenticatorData);
      response.signature = text(r.signature);
      if (r.userHandle) response.userHandle = text(r.userHandle);
    }
    return JSON.stringify({
      id: cred.id,
      rawId: text(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined
    });
  }
  function post(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (k) { body.set(k, fields[k]); });
    return window.fetch(url, { method: "POST", body: body, credentials: "same-origin" });
  }
  function detail(response, fallback) {
    return response.json().then(function (b) { return b.detail || fallback; }, function () { return fallback; });
  }
  var supported = !!(window.PublicKeyCredential && navigator.credentials);

  // Sign-in page -----------------------------------------------------------------------------
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    var say = document.getElementById("passkey-sign-in-state");
    // The words are the page's own (data-* attributes, in the reader's language).
    var words = signIn.dataset;
    if (!supported) {
      say.textContent = words.unsupported;
      signIn.disabled = true;
    }
    signIn.addEventListener("click", function () {
      say.textContent = words.waiting;
      var form = signIn.form;
      window.fetch("/api/v1/auth/passkeys/login/options", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}", credentials: "omit"
      }).then(function (r) { return r.json(); }).then(function (o) {
        return navigator.credentials.get({ publicKey: {
          challenge: bytes(o.challenge), timeout: o.timeout, rpId: o.rpId,
          allowCredentials: descriptors(o.allowCredentials), userVerification: o.userVerification
        } });
      }).then(function (cred) {
        return post("/login/passkey", {
          csrf_token: form.elements.csrf_token.value,
          next: form.elements.next.value,
          credential: credentialJSON(cred)
        });
      }).then(function (r) {
        if (!r.ok) return detail(r, words.refused).then(function (m) { say.textContent = m; });
        return r.json().then(function (b) { window.location.assign(b.next); });
      }).catch(function () {
        say.textContent = words.unused;
      });
    });
  }

  // Security page ----------------------------------------------------------------------------
  var add = document.getElementById("passkey-add");
  if (add) {
    var state = document.getElementById("passkey-state");
    var said = add.dataset;
    if (!supported) state.textContent = said.unsupported;
    add.addEventListener("submit", function (event) {
      event.preventDefault();
      var f = add.elements;
      state.textContent = said.waiting;
      post(add.dataset.options, {
        csrf_token: f.csrf_token.value, password: f.password.value, code: f.code.value
      }).then(function (r) {
        if (!r.ok) return detail(r, said.failed).then(function (m) { throw new Error(m); });
        return r.json();
      }).then(function (o) {
        return navigator.credentials.create({ publicKey: {
          rp: o.rp, challenge: bytes(o.challenge), timeout: o.timeout,
          user: { id: bytes(o.user.id), name: o.user.name, displayName: o.user.displayName },
          pubKeyCredParams: o.pubKeyCredParams, excludeCredentials: descriptors(o.excludeCredentials),
          authenticatorSelection: o.authenticatorSelection, attestation: o.attestation
        } }).catch(function () { throw new Error(said.notMade); });
      }).then(function (cred) {
        return post(add.dataset.action, {
          csrf_token: f.csrf_token.value, name: f.name.value, credential: credentialJSON(cred)
        });
      }).then(function (r) {
        if (!r.ok) return detail(r, said.failed).then(function (m) { throw new Error(m); });
        return r.json().then(function (b) { window.location.assign(b.next); });
      }).catch(function (e) {
        f.password.value = "";
        state.textContent = e.message;
      });
    });
  }
})();
