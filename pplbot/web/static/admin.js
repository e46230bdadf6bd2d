// Progressive enhancement: the "which entry would answer this?" box answers while you type.
// Without JavaScript the same form is submitted and the page shows the result.
(function () {
  var input = document.getElementById("probe");
  var result = document.getElementById("probe-result");
  if (!input || !result || !window.fetch) return;
  var timer = null, asked = "";
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var text = input.value.trim();
      if (text === asked) return;
      asked = text;
      fetch("/admin/probe?text=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          if (asked !== text || !html) return;
          var box = document.createElement("div");
          box.innerHTML = html;
          var fresh = box.querySelector("#probe-result");
          if (fresh) result.replaceWith(fresh), result = fresh;
        });
    }, 250);
  });
})();
