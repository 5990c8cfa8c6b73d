// Live countdowns of deadlines ([data-testid=countdown] with data-due, data-overdue-text).
(function () {
  function fmt(seconds) {
    var s = Math.abs(Math.floor(seconds));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
    return (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(r);
  }
  function tick() {
    document.querySelectorAll("[data-testid=countdown]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - Date.now()) / 1000;
      if (left <= 0) { el.textContent = el.dataset.overdueText + " " + fmt(left); el.classList.add("bad"); }
      else { el.textContent = fmt(left); }
    });
  }
  tick();
  setInterval(tick, 1000);
})();
