// The restored front's viewer: zoom steps (fit, 1:1, 2:1, + and -), drag to pan, keys on the focused image, and
// "show on the front" for each signed field, which pans to its box. Without JavaScript the page keeps its plain
// zoom (a checkbox that switches between fit and full size).
(function () {
  "use strict";

  var STEPS = [0.5, 0.75, 1, 1.5, 2, 3]; // scales above fit that + and - step through

  function setUp() {
    var viewer = document.getElementById("viewer");
    if (!viewer || viewer.dataset.ready) { return; }
    viewer.dataset.ready = "1";
    var frame = viewer.querySelector(".front-frame");
    var img = document.getElementById("restored-front");
    var label = viewer.querySelector(".zoom-label");
    var toggle = document.getElementById("zoom");
    var bar = viewer.querySelector(".viewer-bar");
    var status = viewer.querySelector(".viewer-status");
    var mark = null;
    var scale = "fit";

    // the image leaves the no-script toggle: a focusable region of its own, named, inside the viewport
    label.parentNode.insertBefore(frame, label);
    label.remove();
    toggle.remove();
    bar.hidden = false;
    img.draggable = false;  // the browser's own image drag would cancel the pan
    frame.tabIndex = 0;
    frame.setAttribute("role", "region");
    frame.setAttribute("aria-label", viewer.dataset.frameLabel);
    var main = viewer.closest("main") || document;  // replaced with the page: no listener outlives its viewer
    main.querySelectorAll(".show-field").forEach(function (button) { button.hidden = false; });

    function shown() { return img.clientWidth / img.naturalWidth; }

    function zoom(next, keep) {
      var cx = keep ? keep[0] : (frame.scrollLeft + frame.clientWidth / 2) / img.clientWidth;
      var cy = keep ? keep[1] : (frame.scrollTop + frame.clientHeight / 2) / img.clientHeight;
      scale = next;
      frame.classList.toggle("zoomed", next !== "fit");
      img.style.width = next === "fit" ? "" : Math.round(img.naturalWidth * next) + "px";
      if (next !== "fit") {
        frame.scrollLeft = cx * img.clientWidth - frame.clientWidth / 2;
        frame.scrollTop = cy * img.clientHeight - frame.clientHeight / 2;
        var top = viewer.getBoundingClientRect().top;
        if (top < 0 || top > window.innerHeight / 3) { viewer.scrollIntoView({ block: "start" }); }
      }
      status.textContent = next === "fit" ? "" : Math.round(next * 100) + " %";  // Fit shows pressed
      bar.querySelectorAll("[data-zoom]").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.dataset.zoom === String(next)));
      });
      placeMark();
    }

    function fitScale() { return frame.clientWidth / img.naturalWidth; }

    function step(direction) {
      var now = scale === "fit" ? fitScale() : scale;
      var next;
      if (direction > 0) {
        next = STEPS.find(function (s) { return s > now + 1e-3; });
        if (next === undefined) { next = STEPS[STEPS.length - 1]; }
      } else {
        next = STEPS.slice().reverse().find(function (s) { return s < now - 1e-3; });
        if (next === undefined || next <= fitScale()) { next = "fit"; }
      }
      zoom(next);
    }

    function placeMark() {
      if (!mark) { return; }
      var s = shown(), box = mark.box;
      mark.el.style.left = box[0] * s + "px";
      mark.el.style.top = box[1] * s + "px";
      mark.el.style.width = (box[2] - box[0]) * s + "px";
      mark.el.style.height = (box[3] - box[1]) * s + "px";
    }

    function showField(box, name) {
      if (!mark) {
        mark = { el: document.createElement("div") };
        mark.el.className = "viewer-mark";
        frame.appendChild(mark.el);
      }
      mark.box = box;
      var centre = [(box[0] + box[2]) / 2 / img.naturalWidth, (box[1] + box[3]) / 2 / img.naturalHeight];
      zoom(scale === "fit" || scale < 1 ? 1 : scale, centre);
      status.textContent = name;
      frame.focus({ preventScroll: true });
    }

    bar.addEventListener("click", function (event) {
      var button = event.target.closest("[data-zoom]");
      if (!button) { return; }
      var z = button.dataset.zoom;
      if (z === "in") { step(1); } else if (z === "out") { step(-1); } else { zoom(z === "fit" ? "fit" : Number(z)); }
    });

    main.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest(".show-field");
      if (!button) { return; }
      showField(button.dataset.box.split(",").map(Number), button.dataset.name);
    });

    frame.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      var key = event.key;
      if (key === "+" || key === "=") { step(1); } else if (key === "-" || key === "_") { step(-1); }
      else if (key === "0") { zoom("fit"); } else if (key === "1") { zoom(1); } else if (key === "2") { zoom(2); }
      else { return; }
      event.preventDefault();
    });

    // drag to pan, with a mouse, a pen or a finger
    var drag = null;
    frame.addEventListener("pointerdown", function (event) {
      if (scale === "fit" || event.button !== 0) { return; }
      drag = { x: event.clientX, y: event.clientY, left: frame.scrollLeft, top: frame.scrollTop };
      frame.setPointerCapture(event.pointerId);
      frame.classList.add("dragging");
    });
    frame.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      frame.scrollLeft = drag.left - (event.clientX - drag.x);
      frame.scrollTop = drag.top - (event.clientY - drag.y);
    });
    ["pointerup", "pointercancel"].forEach(function (type) {
      frame.addEventListener(type, function () { drag = null; frame.classList.remove("dragging"); });
    });

    zoom("fit");
  }

  document.addEventListener("DOMContentLoaded", setUp);
  document.addEventListener("certverify:answer", setUp); // an answer shown in place of the upload page
})();

// The paper front compared: the slider between the restored front (0) and the paper front over it (100), shown in
// the "one over the other" view. Without JavaScript that view shows both at half strength.
(function () {
  "use strict";

  function setUp() {
    var blend = document.getElementById("front-blend");
    var pair = document.getElementById("front-pair");
    if (!blend || !pair || blend.dataset.ready) { return; }
    blend.dataset.ready = "1";
    document.getElementById("blend-control").hidden = false;
    function apply() { pair.style.setProperty("--paper-share", String(Number(blend.value) / 100)); }
    blend.addEventListener("input", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", setUp);
  document.addEventListener("certverify:answer", setUp);
})();
