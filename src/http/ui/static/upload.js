// The upload form's progress bar: sends the same multipart request the form would (to the import
// endpoint), shows bytes sent as they go, then opens the import's report. Without this script the
// form still works: the browser posts it and is sent to the report page.
(function () {
  'use strict';
  var form = document.getElementById('upload');
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var box = form.querySelector('.progress');
  var bar = document.getElementById('u-progress');
  var text = document.getElementById('u-progress-text');
  var result = document.getElementById('u-result');
  var button = form.querySelector('button[type="submit"]');

  function mib(n) { return (n / 1048576).toFixed(1) + ' MiB'; }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var file = document.getElementById('u-file').files[0];
    if (!file) return;
    var data = new FormData();
    var tag = document.getElementById('u-tag').value;
    if (tag) data.append('tag', tag);
    data.append('file', file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.getAttribute('action'));
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-CSRF-Token', form.getAttribute('data-csrf'));
    box.hidden = false;
    result.hidden = true;
    button.disabled = true;
    bar.value = 0;
    text.textContent = 'Starting…';
    xhr.upload.addEventListener('progress', function (e) {
      if (!e.lengthComputable) return;
      bar.value = Math.floor((e.loaded / e.total) * 100);
      text.textContent = mib(e.loaded) + ' of ' + mib(e.total) + ' sent (' + bar.value + '%)';
    });
    xhr.upload.addEventListener('load', function () {
      bar.value = 100;
      text.textContent = 'Sent; Berth is checking and committing the image…';
    });
    xhr.addEventListener('load', function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (body && typeof body.id === 'string' && typeof body.status === 'string') {
        text.textContent = 'Import ' + body.status + '. Opening the report…';
        window.location.assign('/ui/imports/' + encodeURIComponent(body.id));
        return;
      }
      button.disabled = false;
      result.hidden = false;
      var error = body && body.error ? body.error : { code: 'HTTP_' + xhr.status, message: xhr.statusText };
      result.textContent = 'The upload was refused: ' + error.code + ' — ' + error.message;
    });
    xhr.addEventListener('error', function () {
      button.disabled = false;
      result.hidden = false;
      result.textContent = 'The upload failed: the connection to Berth broke.';
    });
    xhr.send(data);
  });
})();
