// The loss chart of a run page: polls the run's metrics (same origin) and redraws with uPlot.
(function () {
  function start() {
    var box = document.getElementById("loss-chart");
    if (!box || typeof uPlot === "undefined") return;
    var url = box.getAttribute("data-metrics-url");
    var chart = null;
    function draw(data) {
      document.getElementById("loss-points").textContent = String(data.step.length);
      box.setAttribute("data-points", String(data.step.length));
      if (!data.step.length) return;
      var series = [data.step, data.loss];
      if (!chart) {
        chart = new uPlot({
          width: Math.max(400, box.clientWidth - 10), height: 300,
          series: [{ label: "step" }, { label: box.getAttribute("data-label"), stroke: "#1f3a5f", width: 2 }],
          scales: { x: { time: false } }
        }, series, box);
      } else {
        chart.setData(series);
      }
    }
    function poll() {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
        draw(data);
        if (data.status === "running") setTimeout(poll, 1500);
      }).catch(function () { setTimeout(poll, 5000); });
    }
    poll();
  }
  document.addEventListener("DOMContentLoaded", start);
})();
// htmx leaves 4xx answers unshown by default: show the console's error text where the answer would go.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if (status >= 400 && status < 500 && status !== 401) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
