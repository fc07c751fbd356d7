/* gsomia console: the missile-warning map. Tracks arrive over the console's WebSocket (only those the
   signed-in official may read: the node decides) and are drawn into the server-drawn SVG map with the
   same projection (the SVG's data attributes). Launch point, trajectory, predicted impact area; the
   banner rises with the highest classification shown; the latency of the last message is shown. */
(function () {
  "use strict";
  var svg = document.getElementById("map");
  if (!svg) { return; }
  var NS = "http://www.w3.org/2000/svg";
  var west = Number(svg.dataset.west), north = Number(svg.dataset.north);
  var kx = Number(svg.dataset.kx), ky = Number(svg.dataset.ky);
  var layer = document.getElementById("tracks");
  var list = document.querySelector("[data-track-list]");
  var status = document.querySelector("[data-feed-status]");
  var lastMessage = document.querySelector("[data-last-message]");
  var latency = document.querySelector("[data-latency]");
  var count = document.querySelector("[data-count]");
  var tracks = new Map();
  var received = 0, retry = 500, topTier = Number(document.querySelector("[data-banner]").dataset.tier || 0);
  var LEVELS = { 1: "c", 2: "s", 3: "ts" };

  function xy(p) { return [(p.lon - west) * kx, (north - p.lat) * ky]; }

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function track(stream) {
    var t = tracks.get(stream);
    if (t) { return t; }
    var g = el("g", { "class": "track", "data-stream": stream }, layer);
    t = {
      g: g, points: [],
      impact: el("circle", { "class": "impact", r: 0, cx: -100, cy: -100 }, g),
      path: el("polyline", { "class": "trajectory", points: "" }, g),
      launch: el("path", { "class": "launch", d: "" }, g),
      head: el("circle", { "class": "head", r: 3.5, cx: -100, cy: -100 }, g),
      label: el("text", { "class": "track-label", x: -100, y: -100 }, g),
      item: null, impactTime: ""
    };
    var empty = list.querySelector("[data-empty]");
    if (empty) { empty.remove(); }
    t.item = list.querySelector("li[data-stream='" + CSS.escape(stream) + "']");
    if (!t.item) {
      t.item = document.createElement("li");
      t.item.dataset.stream = stream;
      list.appendChild(t.item);
    }
    tracks.set(stream, t);
    return t;
  }

  function raiseBanner(m) {
    if (m.tier <= topTier) { return; }
    topTier = m.tier;
    document.querySelectorAll("[data-banner]").forEach(function (banner) {
      banner.textContent = m.banner;
      banner.className = "banner banner-" + LEVELS[m.tier];
      banner.dataset.tier = String(m.tier);
    });
  }

  function apply(m) {
    var t = track(m.stream);
    var at;
    if (m.kind === "LaunchEvent") {
      at = xy(m.point);
      t.launch.setAttribute("d", "M" + at[0] + "," + (at[1] - 7) + "l6,11h-12z");
      t.points.unshift(at);
      t.label.textContent = m.stream;
    } else if (m.kind === "TrackUpdate") {
      at = xy(m.position);
      t.points.push(at);
      t.head.setAttribute("cx", at[0]);
      t.head.setAttribute("cy", at[1]);
    } else if (m.kind === "ImpactPrediction") {
      at = xy(m.point);
      var radius = m.ce_m < 9000000 ? Math.max(6, (m.ce_m / 111320) * ky) : 6;
      t.impactTime = new Date(m.impact_time * 1000).toISOString().slice(11, 19) + " UTC";
      t.impact.setAttribute("cx", at[0]);
      t.impact.setAttribute("cy", at[1]);
      t.impact.setAttribute("r", radius.toFixed(1));
    } else if (m.kind === "EndOfTrack") {
      t.g.classList.add("ended");
    }
    if (at && m.kind !== "ImpactPrediction") {  // the name follows the newest position, clear of place names
      t.label.setAttribute("x", at[0] + 9);
      t.label.setAttribute("y", at[1] - 9);
    }
    t.path.setAttribute("points", t.points.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" "));
    t.item.textContent = "";
    var name = document.createElement("strong");
    name.textContent = m.stream;
    t.item.appendChild(name);
    t.item.appendChild(document.createTextNode(" " + m.classification + " · " + m.kind + " #" + m.seq
      + (m.kind === "EndOfTrack" ? " (" + m.reason + ")" : "")
      + (t.impactTime ? " · impact predicted " + t.impactTime : "")));
    t.item.className = "tier-" + LEVELS[m.tier];
    raiseBanner(m);
  }

  function show(batch) {
    var now = Date.now() / 1000;
    batch.forEach(apply);
    received += batch.length;
    var m = batch[batch.length - 1];
    count.textContent = String(received);
    svg.dataset.tracks = String(tracks.size);
    svg.dataset.messages = String(received);
    lastMessage.textContent = m.stream + " #" + m.seq + " " + m.kind;
    latency.textContent = Math.max(0, (now - m.time) * 1000).toFixed(0) + " ms to this screen · "
      + Math.max(0, (m.relayed_at - m.time) * 1000).toFixed(0) + " ms to the node's relay";
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var url = scheme + "//" + window.location.host + svg.dataset.live + "?csrf=" + encodeURIComponent(svg.dataset.csrf);
    var socket = new WebSocket(url);
    status.textContent = "connecting…";
    socket.onopen = function () {
      status.textContent = "live";
      status.className = "status live";
      retry = 500;
      tracks.clear();  // the node sends what it holds again: draw it afresh
      layer.textContent = "";
      received = 0;
    };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (data.error) { status.textContent = data.error; return; }
      if (data.tracks && data.tracks.length) { show(data.tracks); }
    };
    socket.onclose = function (event) {
      status.className = "status down";
      if (event.code === 4401) { status.textContent = "signed out: reload the page to sign in"; return; }
      status.textContent = "disconnected; reconnecting…";
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }

  connect();
}());
