// what a widget does: ask the server for the link, then write it into the page
fetch('/api/link.txt').then(function (r) { return r.text(); }).then(function (url) {
  var a = document.createElement('a'); a.href = url.trim(); a.textContent = 'fetched widgets';
  document.body.appendChild(a);
});
