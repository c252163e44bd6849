// Progressive enhancement of the upload form: drag and drop, and an upload progress bar.
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

  // Show the answer (result or error page) in place of this page, without a navigation.
  function showAnswer(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var index = entry();
    keep(index);
    show({ body: document.adoptNode(doc.body), title: doc.title, lang: doc.documentElement.lang });
    history.pushState({ certverify: index + 1 }, "", location.href);
    keep(index + 1);
    var heading = document.querySelector("main h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    document.dispatchEvent(new CustomEvent("certverify:answer"));
  }

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
    xhr.addEventListener("load", function () {
      if ((xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === 0) {
        showAnswer(xhr.responseText);
      } else {
        f.submit();
      }
    });
    xhr.addEventListener("error", function () {
      setStatus(f.dataset.msgFailed, null);
      f.submit();
    });
    xhr.send(new FormData(f));
  });
})();
