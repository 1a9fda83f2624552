/* Kho review: keyboard judging without page reloads.
 *
 * Keys on the queue page: 1 = the pipeline's decision is correct, 2 = wrong, 3 = unsure,
 * n / p = next / previous item, c = write a comment (Esc leaves the comment box).
 * Judgements are POSTed as JSON with the session's CSRF token in X-CSRF-Token; the next
 * item's HTML comes rendered (and escaped) by the server and replaces the current one.
 * Without JavaScript the same page works through its form and links.
 */
(function () {
  "use strict";

  /** Place the detection boxes of image viewers (positions come in data- attributes
   * because the page's Content-Security-Policy forbids inline styles). */
  function placeBoxes(root) {
    root.querySelectorAll(".box").forEach(function (box) {
      box.style.left = box.dataset.left + "%";
      box.style.top = box.dataset.top + "%";
      box.style.width = box.dataset.width + "%";
      box.style.height = box.dataset.height + "%";
    });
  }

  function setupQueue(review) {
    var queueId = review.dataset.queueId;
    var csrf = review.dataset.csrf;
    var slot = document.getElementById("item-slot");
    var form = document.getElementById("judge-form");
    var comment = document.getElementById("comment");
    var status = document.getElementById("status");
    var progress = document.getElementById("progress");
    var busy = false;
    var lastPosition = null;

    function current() { return document.getElementById("item"); }
    function remember() {
      var item = current();
      if (item) { lastPosition = item.dataset.position; }
    }
    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? "error" : "";
    }

    function show(data) {
      if (data.progress) {
        progress.textContent = data.progress.judged + " of " + data.progress.total + " judged";
      }
      if (data.html) {
        slot.innerHTML = data.html;
        form.hidden = false;
        form.action = "/items/" + data.item_id + "/judgement";
        comment.value = data.comment || "";
        placeBoxes(slot);
        remember();
        history.replaceState(null, "", "/queues/" + queueId + "?at=" + data.position);
      } else {
        slot.innerHTML = data.done_html;
        form.hidden = true;
      }
    }

    function request(url, options) {
      busy = true;
      options.credentials = "same-origin";
      options.headers = Object.assign({"Accept": "application/json"}, options.headers || {});
      return fetch(url, options).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            throw new Error(body.detail || ("the server answered " + response.status));
          }
          return body;
        });
      }).finally(function () { busy = false; });
    }

    function step(direction) {
      if (busy) { return; }
      var item = current();
      var position = item ? item.dataset.position : (direction === "previous" && lastPosition !== null ? String(Number(lastPosition) + 1) : "");
      var url = "/api/queues/" + queueId + "/" + direction + (position !== "" ? "?position=" + encodeURIComponent(position) : "");
      request(url, {method: "GET"}).then(function (data) {
        if (!data.html && direction === "previous") { say("this is the first item"); return; }
        say("");
        show(data);
      }).catch(function (err) { say(err.message, true); });
    }

    function judge(label) {
      var item = current();
      if (busy || !item) { return; }
      var body = JSON.stringify({label: Number(label), comment: comment.value});
      request("/api/items/" + item.dataset.itemId + "/judgement", {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: body
      }).then(function (data) {
        say("saved: " + data.label_name);
        show(data);
      }).catch(function (err) { say(err.message, true); });
    }

    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.isContentEditable);
      if (typing) {
        if (event.key === "Escape") { target.blur(); }
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      switch (event.key) {
        case "1": case "2": case "3": judge(event.key); break;
        case "n": step("next"); break;
        case "p": step("previous"); break;
        case "c": comment.focus(); break;
        default: return;
      }
      event.preventDefault();
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (event.submitter && event.submitter.value) { judge(event.submitter.value); }
    });
    document.getElementById("next").addEventListener("click", function (e) { e.preventDefault(); step("next"); });
    document.getElementById("prev").addEventListener("click", function (e) { e.preventDefault(); step("previous"); });
    remember();
    review.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    placeBoxes(document);
    var review = document.getElementById("review");
    if (review) { setupQueue(review); }
  });
})();
