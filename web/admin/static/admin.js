// Pilcrow admin: progressive enhancement only. Every page works as plain
// forms; this adds upload progress and drag and drop, the Markdown preview,
// the "add a field" button and confirmations. Loaded with defer from the same
// origin (the Content-Security-Policy forbids inline script).
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  // Confirm destructive buttons.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-confirm]");
    if (b && !window.confirm(b.getAttribute("data-confirm"))) {
      ev.preventDefault();
    }
  });

  document.querySelectorAll("[data-select-all]").forEach(function (el) {
    el.addEventListener("focus", function () { el.select(); });
  });

  // Focus the first invalid control after a failed save, so keyboard and
  // screen-reader users land on the problem.
  var invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) { invalid.focus(); }
  else {
    var alert = document.querySelector("#conflict, #rejection, #page-error");
    if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
  }

  // Markdown live preview: the server renders and sanitises.
  document.querySelectorAll("textarea[data-markdown]").forEach(function (ta) {
    var out = document.getElementById(ta.getAttribute("data-markdown"));
    var timer = null, seq = 0;
    function render() {
      var mine = ++seq;
      fetch("/admin/preview", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "text/plain; charset=utf-8", "X-CSRF-Token": csrf },
        body: ta.value
      }).then(function (res) {
        if (!res.ok) { throw new Error("preview failed: " + res.status); }
        return res.text();
      }).then(function (html) {
        if (mine === seq) { out.innerHTML = html; } // already sanitised server-side
      }).catch(function (err) {
        if (mine === seq) { out.textContent = err.message; }
      });
    }
    ta.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(render, 250);
    });
    render();
  });

  // Collection field editor: clone the blank row template.
  var addField = document.getElementById("add-field");
  var rowTpl = document.getElementById("field-row-template");
  var rowCount = document.getElementById("field-rows");
  if (addField && rowTpl && rowCount) {
    addField.hidden = false;
    addField.addEventListener("click", function () {
      var i = parseInt(rowCount.value, 10) || 0;
      var html = rowTpl.innerHTML.split("__i__").join(String(i));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var row = holder.firstElementChild;
      document.getElementById("field-list").appendChild(row);
      rowCount.value = String(i + 1);
      var first = row.querySelector("input");
      if (first) { first.focus(); }
    });
  }

  // Uploads: XHR for progress, with the CSRF header the API needs.
  function upload(url, form, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { onProgress(Math.round(100 * e.loaded / e.total)); }
      });
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status >= 200 && xhr.status < 300) { resolve(body); }
        else { reject(problemText(body, xhr.status)); }
      };
      xhr.onerror = function () { reject("the upload failed: network error"); };
      xhr.send(form);
    });
  }

  function problemText(p, status) {
    if (!p) { return "the upload failed (HTTP " + status + ")"; }
    var msg = p.detail || p.title || ("HTTP " + status);
    if (p.errors && p.errors.length) {
      msg += ": " + p.errors.map(function (e) { return (e.path ? e.path + " " : "") + e.message; }).join("; ");
    }
    return msg;
  }

  var mediaForm = document.getElementById("upload-form");
  if (mediaForm) {
    var fileInput = document.getElementById("upload-file");
    var list = document.getElementById("upload-progress");
    var drop = document.getElementById("dropzone");
    var sendFiles = function (files) {
      var alt = document.getElementById("upload-alt").value;
      var jobs = Array.prototype.map.call(files, function (f) {
        var li = document.createElement("li");
        var label = document.createElement("span");
        label.textContent = f.name + " ";
        var bar = document.createElement("progress");
        bar.max = 100; bar.value = 0;
        bar.setAttribute("aria-label", "Uploading " + f.name);
        li.appendChild(label); li.appendChild(bar);
        list.appendChild(li);
        var fd = new FormData();
        if (alt) { fd.append("alt", alt); }
        fd.append("file", f, f.name);
        return upload("/api/media", fd, function (p) { bar.value = p; }).then(function () {
          bar.value = 100; label.textContent = f.name + " uploaded ";
        }, function (msg) {
          li.className = "bad"; li.setAttribute("role", "alert");
          li.textContent = f.name + ": " + msg;
          throw msg;
        });
      });
      Promise.allSettled(jobs).then(function (results) {
        if (results.every(function (r) { return r.status === "fulfilled"; })) {
          window.location.assign("/admin/media?notice=uploaded");
        }
      });
    };
    mediaForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (fileInput.files.length) { sendFiles(fileInput.files); }
    });
    ["dragenter", "dragover"].forEach(function (t) {
      drop.addEventListener(t, function (ev) { ev.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      drop.addEventListener(t, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (ev) {
      ev.preventDefault();
      if (ev.dataTransfer && ev.dataTransfer.files.length) { sendFiles(ev.dataTransfer.files); }
    });
  }

  var pluginForm = document.getElementById("plugin-upload-form");
  if (pluginForm) {
    var errs = document.getElementById("bundle-errors");
    pluginForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errs.textContent = "";
      var input = document.getElementById("bundle");
      if (!input.files.length) { return; }
      var fd = new FormData();
      fd.append("bundle", input.files[0], input.files[0].name);
      upload("/api/plugins", fd, function () {}).then(function (info) {
        window.location.assign("/admin/plugins/" + encodeURIComponent(info.id));
      }, function (msg) {
        errs.textContent = "The bundle was not installed: " + msg;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      });
    });
  }
})();
