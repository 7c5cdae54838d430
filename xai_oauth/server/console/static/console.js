// The console's one script, hand-written and loaded from the console itself (no build step, no inline script):
// it counts cooldowns down, and on a sign-in's page it asks the server every few seconds whether the person
// approved, then moves on by itself. Every page works without it: the countdown is drawn by the server, and the
// sign-in page has a "Check now" button.
"use strict";

(function () {
  function span(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var secs = seconds % 60;
    if (days) return days + " d " + hours + " h";
    if (hours) return hours + " h " + minutes + " min";
    if (minutes) return minutes + " min " + secs + " s";
    return secs + " s";
  }

  function countDown() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time[data-until]").forEach(function (element) {
      var until = Number(element.dataset.until);
      element.textContent = until > now ? span(until - now) : "a moment (reload to see it back)";
    });
  }

  function waitForApproval(box) {
    var status = document.getElementById("signin-status");
    var token = document.querySelector('meta[name="csrf-token"]');
    var interval = Number(box.dataset.interval) || 5;
    if (!status || !token) return;

    function ask() {
      fetch(box.dataset.poll, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token.content, Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (answer) {
          status.textContent = answer.message || "Waiting for the approval…";
          if (answer.next) {
            window.location.assign(answer.next);
            return;
          }
          interval = Number(answer.interval) || interval;
          window.setTimeout(ask, interval * 1000);
        })
        .catch(function () {
          status.textContent = "Could not ask the server just now; trying again…";
          window.setTimeout(ask, interval * 1000);
        });
    }

    window.setTimeout(ask, interval * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("time[data-until]")) {
      countDown();
      window.setInterval(countDown, 1000);
    }
    var signin = document.getElementById("signin");
    if (signin) waitForApproval(signin);
  });
})();
