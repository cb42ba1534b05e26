// Remembers the reader's choice of reading (original or verbosified) across
// pages. The switch itself is plain radio buttons and CSS: it works without this.
(function () {
  "use strict";
  var KEY = "vsr-reading";
  var stored = null;
  try { stored = window.localStorage.getItem(KEY); } catch (e) { /* storage blocked */ }
  var inputs = document.querySelectorAll('input[name="reading"]');
  inputs.forEach(function (input) {
    if (stored && input.value === stored) { input.checked = true; }
    input.addEventListener("change", function () {
      try { window.localStorage.setItem(KEY, input.value); } catch (e) { /* storage blocked */ }
    });
  });
})();
