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

  // Collection field editor: each row shows only the options of its type
  // (the others are disabled, so not sent); "Add a field" and the presets
  // clone the blank row template.
  function applyType(row) {
    var sel = row.querySelector("select.field-type");
    if (!sel) { return; }
    row.querySelectorAll("[data-for]").forEach(function (el) {
      var on = el.getAttribute("data-for").split(" ").indexOf(sel.value) >= 0;
      el.hidden = !on;
      el.querySelectorAll("input, select, textarea").forEach(function (c) { c.disabled = !on; });
    });
  }
  var fieldList = document.getElementById("field-list");
  var rowTpl = document.getElementById("field-row-template");
  var rowCount = document.getElementById("field-rows");
  if (fieldList && rowTpl && rowCount) {
    fieldList.querySelectorAll("[data-row]").forEach(applyType);
    fieldList.addEventListener("change", function (ev) {
      if (ev.target.matches("select.field-type")) { applyType(ev.target.closest("[data-row]")); }
    });
    var addRow = function () {
      var i = parseInt(rowCount.value, 10) || 0;
      var holder = document.createElement("div");
      holder.innerHTML = rowTpl.innerHTML.split("__i__").join(String(i));
      var row = holder.firstElementChild;
      fieldList.appendChild(row);
      rowCount.value = String(i + 1);
      applyType(row);
      return row;
    };
    // A preset fills the first row whose name is still empty, or a new one.
    var emptyRow = function () {
      var rows = fieldList.querySelectorAll("[data-row]");
      for (var k = 0; k < rows.length; k++) {
        var n = rows[k].querySelector('input[name$=".name"]');
        if (n && n.value === "") { return rows[k]; }
      }
      return addRow();
    };
    var presets = document.getElementById("presets");
    if (presets) { presets.hidden = false; }
    var addField = document.getElementById("add-field");
    addField.addEventListener("click", function () {
      var first = addRow().querySelector("input");
      if (first) { first.focus(); }
    });
    document.querySelectorAll("button[data-preset]").forEach(function (b) {
      b.addEventListener("click", function () {
        var p = JSON.parse(b.getAttribute("data-preset"));
        var row = emptyRow();
        var set = function (attr, v) {
          var el = row.querySelector('[name$=".' + attr + '"]');
          if (el) { el.value = v; }
        };
        set("name", p.name);
        set("label", p.label);
        row.querySelector("select.field-type").value = p.type;
        applyType(row);
        if (p.from) { set("from", p.from); }
        var req = row.querySelector('input[name$=".required"]');
        if (req) { req.checked = !!p.required; }
        var legend = row.querySelector("legend");
        if (legend) { legend.textContent = "Field “" + p.name + "”"; }
        var focus = p.focusOptions ? row.querySelector('textarea[name$=".options"]') : row.querySelector('input[name$=".label"]');
        if (focus) { focus.focus(); }
      });
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

  // Media fields of the entry editor: upload a file without leaving the
  // page (it becomes the field's choice), or find one in the library.
  function mediaChoice(field, name, m) {
    var existing = field.querySelector('[data-media-id="' + m.id + '"]');
    if (existing) { return existing; }
    var label = document.createElement("label");
    label.className = "pick";
    label.setAttribute("data-media-id", m.id);
    var radio = document.createElement("input");
    radio.type = "radio"; radio.name = name; radio.value = m.id;
    label.appendChild(radio);
    if (m.mimeType && m.mimeType.indexOf("image/") === 0) {
      var img = document.createElement("img");
      img.src = m.url; img.alt = ""; img.loading = "lazy";
      label.appendChild(img);
    }
    var span = document.createElement("span");
    span.textContent = m.filename + (m.alt ? " — " + m.alt : "");
    label.appendChild(span);
    var choices = field.querySelector("[data-media-choices]");
    var none = choices.firstElementChild; // "No media" stays first
    choices.insertBefore(label, none ? none.nextSibling : null);
    return label;
  }
  document.querySelectorAll("fieldset[data-media-field]").forEach(function (field) {
    var name = field.getAttribute("data-media-field");
    var tools = field.querySelector(".media-tools");
    var status = field.querySelector(".media-status");
    var fileInput = field.querySelector("[data-media-upload]");
    var altInput = field.querySelector("[data-media-alt]");
    var search = field.querySelector("[data-media-search]");
    tools.hidden = false;
    var say = function (msg, bad) {
      status.textContent = msg;
      status.classList.toggle("bad", !!bad);
      status.setAttribute("role", bad ? "alert" : "status");
    };
    fileInput.addEventListener("change", function () {
      if (!fileInput.files.length) { return; }
      var f = fileInput.files[0];
      var fd = new FormData();
      if (altInput.value) { fd.append("alt", altInput.value); }
      fd.append("file", f, f.name);
      say("Uploading " + f.name + "…");
      upload("/api/media", fd, function (p) { say("Uploading " + f.name + ": " + p + "%"); }).then(function (m) {
        var label = mediaChoice(field, name, m);
        label.hidden = false;
        label.querySelector("input").checked = true;
        say(f.name + " uploaded and chosen. Save the entry to keep it.");
        fileInput.value = ""; altInput.value = "";
      }, function (msg) {
        say(f.name + " was not uploaded: " + msg, true);
      });
    });
    var timer = null, seq = 0;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = search.value.trim(), mine = ++seq;
        var picks = field.querySelectorAll("[data-media-id]");
        if (q === "") {
          picks.forEach(function (p) { p.hidden = false; });
          say("");
          return;
        }
        fetch("/api/media?limit=24&q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (res) {
            return res.json().then(function (body) {
              if (!res.ok) { throw problemText(body, res.status); }
              return body;
            });
          })
          .then(function (page) {
            if (mine !== seq) { return; }
            var found = {};
            page.items.forEach(function (m) { found[m.id] = true; mediaChoice(field, name, m); });
            field.querySelectorAll("[data-media-id]").forEach(function (p) {
              var checked = p.querySelector("input").checked;
              p.hidden = !found[p.getAttribute("data-media-id")] && !checked;
            });
            say(page.items.length ? page.items.length + " found for “" + q + "”." : "Nothing in the library matches “" + q + "”.");
          })
          .catch(function (err) { if (mine === seq) { say("The search failed: " + err, true); } });
      }, 250);
    });
  });

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
