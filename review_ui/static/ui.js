// The review desk's only script (CSP script-src 'self'): keyboard shortcuts, the lease
// countdown, and the shortcut help. Every action is a plain form submit, so the pages work
// without this file too; nothing here builds HTML from text.
(function () {
  "use strict";
  var pendingReject = false;

  function $(sel) { return document.querySelector(sel); }
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && el.type !== "button" &&
      el.type !== "submit" && el.type !== "hidden");
  }
  function toggleHelp(show) {
    var help = $("#help");
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }
  function submitWith(button) {
    var form = button && button.form;
    if (!form || button.disabled) return;
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }
  function setRejectMode(on) {
    pendingReject = on;
    var pick = $("#reject-pick");
    if (pick) pick.hidden = !on;
  }
  function rejectWithDigit(d) {
    var opt = $('#reason option[data-digit="' + d + '"]');
    if (!opt) return false;
    $("#reason").value = opt.value;
    setRejectMode(false);
    submitWith($("#btn-reject"));
    return true;
  }

  function onItemKey(ev) {
    var k = ev.key;
    if (pendingReject) {
      if (/^[0-9]$/.test(k)) { ev.preventDefault(); rejectWithDigit(k); return; }
      if (k === "Escape") { setRejectMode(false); return; }
    }
    if (k === "a") { ev.preventDefault(); submitWith($("#btn-approve")); }
    else if (k === "r") { if ($("#btn-reject")) { ev.preventDefault(); setRejectMode(true); } }
    else if (k === "e") { ev.preventDefault(); submitWith($("#btn-escalate")); }
    else if (k === "n") { ev.preventDefault(); submitWith($("#next")); }
    else if (k === "/") { var n = $("#note"); if (n) { ev.preventDefault(); n.focus(); } }
  }

  function onQueuesKey(ev) {
    var rows = document.querySelectorAll("#queues tbody tr");
    var k = ev.key;
    if (k === "n") {
      for (var i = 0; i < rows.length; i++) {
        if (rows[i].getAttribute("data-depth") !== "0") {
          ev.preventDefault();
          submitWith(rows[i].querySelector("button"));
          return;
        }
      }
    } else if (/^[1-9]$/.test(k) && rows[+k - 1]) {
      ev.preventDefault();
      submitWith(rows[+k - 1].querySelector("button"));
    }
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (typing(ev.target)) {
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (ev.key === "?") { ev.preventDefault(); toggleHelp(); return; }
    if (ev.key === "Escape") { toggleHelp(false); setRejectMode(false); return; }
    var page = document.body.getAttribute("data-page");
    if (page === "item") onItemKey(ev);
    else if (page === "queues") onQueuesKey(ev);
  });

  function startLeaseClock() {
    var el = $("#lease");
    if (!el) return;
    var expires = Date.parse(el.getAttribute("data-expires") || "");
    if (isNaN(expires)) return;
    function tick() {
      var left = Math.round((expires - Date.now()) / 1000);
      if (left <= 0) {
        el.textContent = "已过期";
        $("#lease-box").classList.add("expired");
        var banner = $("#lease-expired");
        if (banner) banner.hidden = false;
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + " 分 " + (s < 10 ? "0" : "") + s + " 秒";
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  function linkEvidence() {
    // Hovering a line of the side list outlines its spans in the text, and back.
    document.querySelectorAll("[data-ref]").forEach(function (li) {
      var ref = li.getAttribute("data-ref");
      var marks = document.querySelectorAll('mark[data-refs~="' + ref + '"]');
      li.addEventListener("mouseenter", function () { marks.forEach(function (m) { m.classList.add("focus"); }); });
      li.addEventListener("mouseleave", function () { marks.forEach(function (m) { m.classList.remove("focus"); }); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var help = document.querySelector('[data-action="help"]');
    if (help) help.addEventListener("click", function () { toggleHelp(); });
    var overlay = $("#help");
    if (overlay) overlay.addEventListener("click", function (ev) { if (ev.target === overlay) toggleHelp(false); });
    startLeaseClock();
    linkEvidence();
  });
})();
