// Progressive enhancement of the upload form: drag and drop, an upload progress bar, and the answer shown in place
// (its verdict and facts first on a slow link, then its image).
// Without this script the form is a plain file upload that works the same way.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function form() { return document.getElementById("upload-form"); }

  function showChosen(input) {
    var out = document.getElementById("chosen");
    if (out && input.files && input.files.length) {
      out.textContent = input.files[0].name + " (" + Math.ceil(input.files[0].size / 1024) + " KB)";
    }
  }

  function setStatus(text, value) {
    var box = document.getElementById("progress");
    var bar = document.getElementById("progress-bar");
    var status = document.getElementById("progress-status");
    if (!box) { return; }
    box.hidden = false;
    status.textContent = text;
    if (value === null) { bar.removeAttribute("value"); } else { bar.value = value; }
  }

  // The pages this tab showed in place, by history entry: the form, then each answer. Back returns to the form
  // (with the file still chosen) and Forward to the answer, without sending anything again: the site keeps
  // nothing of a scan, so the answer lives only here.
  var shown = [];
  // Where a result page's image begins: what comes before it (the verdict and the facts) can be shown at once.
  var IMAGE_MARK = "<!--certverify:image-->";
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  function entry() { return (history.state && history.state.certverify) || 0; }

  function keep(index) {
    shown[index] = { body: document.body, title: document.title, lang: document.documentElement.lang };
  }

  function show(page) {
    document.title = page.title;
    document.documentElement.lang = page.lang;
    document.body.replaceWith(page.body);
    window.scrollTo(0, 0);
  }

  window.addEventListener("popstate", function () {
    var page = shown[entry()];
    if (!page) { return; }
    show(page);
    var button = document.getElementById("submit");
    if (button) { button.disabled = false; }
    var progress = document.getElementById("progress");
    if (progress) { progress.hidden = true; }
  });

  // Show the answer (result or error page) in place of this page, without a navigation. A result page whose
  // image is still on its way (``partial``) shows its verdict and facts, with the image's place held.
  function showAnswer(html, partial) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var index = entry();
    keep(index);
    show({ body: document.adoptNode(doc.body), title: doc.title, lang: doc.documentElement.lang });
    history.pushState({ certverify: index + 1 }, "", location.href);
    keep(index + 1);
    var heading = document.querySelector("main h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    if (partial) { holdImagePlace(); } else { document.dispatchEvent(new CustomEvent("certverify:answer")); }
    return index + 1;
  }

  function holdImagePlace() {
    var viewer = document.getElementById("viewer");
    var frame = viewer && viewer.querySelector(".front-frame");
    if (!frame) { return; }
    var hold = document.createElement("span");
    hold.className = "front-loading";
    hold.setAttribute("role", "status");
    hold.textContent = viewer.dataset.loading;
    hold.style.aspectRatio = viewer.dataset.width + " / " + viewer.dataset.height;
    frame.appendChild(hold);
  }

  // The whole answer has arrived after its first part was shown (history entry ``index``): put the whole page in
  // place, keeping what the reader did meanwhile (ticks, focus, scroll).
  function finishAnswer(html, index) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var body = document.adoptNode(doc.body);
    var page = shown[index];
    var ticks = page.body.querySelectorAll("#checklist input[type=checkbox]");
    var fresh = body.querySelectorAll("#checklist input[type=checkbox]");
    for (var i = 0; i < ticks.length && i < fresh.length; i++) { fresh[i].checked = ticks[i].checked; }
    var heading = body.querySelector("main h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); }
    shown[index] = { body: body, title: doc.title, lang: doc.documentElement.lang };
    if (entry() !== index) { return; } // the reader went back meanwhile: the page waits in history
    // the first part is the start of the whole page, so what had the focus is at the same place in its order
    var focused = Array.prototype.indexOf.call(document.body.querySelectorAll(FOCUSABLE), document.activeElement);
    var x = window.scrollX, y = window.scrollY;
    show(shown[index]);
    window.scrollTo(x, y);
    var again = focused >= 0 && document.body.querySelectorAll(FOCUSABLE)[focused];
    if (again) { again.focus({ preventScroll: true }); }
    document.dispatchEvent(new CustomEvent("certverify:answer"));
  }

  // The language switch on a result page shows the same answer in the other language, which the page carries
  // (#other-language): the scan is not sent again. The browser is told the choice for the pages that follow.
  function carryTicks(from, to) {
    var ticks = from.querySelectorAll("#checklist input[type=checkbox]");
    var fresh = to.querySelectorAll("#checklist input[type=checkbox]");
    for (var i = 0; i < ticks.length && i < fresh.length; i++) { fresh[i].checked = ticks[i].checked; }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".lang-switch a");
    if (!link) { return; }
    var lang = link.getAttribute("hreflang");
    var other = document.getElementById("other-language");
    var body = document.body.inOtherLanguage; // this answer's page in the other language, once shown
    if (!body && other && other.dataset.lang === lang) {
      body = document.createElement("body");
      body.appendChild(other.content.cloneNode(true));
      body.dataset.title = other.dataset.title;
      body.dataset.lang = lang;
      ["restored-front", "front-restored", "front-paper", "front-overlay"].forEach(function (id) {
        var shownImage = document.getElementById(id);
        var hole = body.querySelector("#" + id);
        if (shownImage && hole) { hole.src = shownImage.src; }
      });
    }
    if (!body || body.dataset.lang !== lang) { return; }
    event.preventDefault();
    document.body.dataset.title = document.title;
    document.body.dataset.lang = document.documentElement.lang;
    body.inOtherLanguage = document.body;
    carryTicks(document.body, body);
    var x = window.scrollX, y = window.scrollY;
    document.documentElement.lang = lang;
    document.title = body.dataset.title;
    document.body.replaceWith(body);
    window.scrollTo(x, y);
    keep(entry());
    document.dispatchEvent(new CustomEvent("certverify:answer"));
    var back = body.querySelector(".lang-switch a");
    if (back) { back.focus({ preventScroll: true }); }
    if (window.fetch) { fetch(link.href, { credentials: "same-origin" }); } // remember the choice
  });

  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "scan") { showChosen(event.target); }
  });

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = event.target.closest && event.target.closest("#drop-zone");
      if (!zone) { return; }
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = event.target.closest && event.target.closest("#drop-zone");
      if (zone) { zone.classList.remove("dragging"); }
    });
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("#drop-zone");
    if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) { return; }
    event.preventDefault();
    var input = document.getElementById("scan");
    input.files = event.dataTransfer.files;
    showChosen(input);
  });

  document.addEventListener("submit", function (event) {
    var f = event.target;
    if (f !== form() || !window.FormData || !window.XMLHttpRequest || !window.DOMParser) { return; }
    var input = document.getElementById("scan");
    var file = input.files && input.files[0];
    var max = parseInt(f.dataset.maxBytes, 10);
    if (file && max && file.size > max) {
      event.preventDefault();
      setStatus(f.dataset.tooLarge, 0);
      return;
    }
    event.preventDefault();
    var button = document.getElementById("submit");
    button.disabled = true;
    setStatus(f.dataset.msgUploading, 0);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", f.action);
    xhr.setRequestHeader("Accept", "text/html");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { setStatus(f.dataset.msgUploading, Math.round(100 * e.loaded / e.total)); }
    });
    xhr.upload.addEventListener("load", function () { setStatus(f.dataset.msgChecking, null); });
    function isPage() { return (xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === 0; }
    var partial = 0; // the history entry of a result shown before its image arrived
    xhr.addEventListener("progress", function () {
      if (partial || !isPage()) { return; }
      var cut = xhr.responseText.indexOf(IMAGE_MARK);
      if (cut >= 0) { partial = showAnswer(xhr.responseText.slice(0, cut), true); }
    });
    xhr.addEventListener("load", function () {
      if (!isPage()) {
        f.submit();
      } else if (partial) {
        finishAnswer(xhr.responseText, partial);
      } else {
        showAnswer(xhr.responseText, false);
      }
    });
    xhr.addEventListener("error", function () {
      setStatus(f.dataset.msgFailed, null);
      f.submit();
    });
    xhr.send(new FormData(f));
  });
})();
