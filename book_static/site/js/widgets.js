/*
 * Loaded on pages with saved Jupyter widgets, after RequireJS and just before the widgets HTML
 * manager (vendor/html-manager/embed-amd.js); see nb_ipywidgets_js in _config.yml.
 *
 * 1. The manager's bundled CSS (Font Awesome) loads its fonts from the RequireJS address of the
 *    module "@jupyter-widgets/html-manager/dist/libembed-amd", which by default resolves against
 *    the page (chapters/@jupyter-widgets/...: 404). Map that module path to the vendored copy.
 * 2. The manager typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the book
 *    loads MathJax 3, which has no Hub ("Cannot read properties of undefined (reading
 *    'Queue')"). Provide that one call on top of MathJax 3's typesetPromise.
 */
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  if (here) {
    var vendored = new URL("../vendor/html-manager", here).href;
    window.__jupyter_widgets_assets_path__ = vendored + "/";
    if (window.requirejs) {
      window.requirejs.config({ paths: { "@jupyter-widgets/html-manager/dist": vendored } });
    }
  }

  function installHub() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;  // not loaded yet, or a real MathJax 2
    mj.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (!Array.isArray(job) || job[0] !== "Typeset") return;
          var nodes = job[2] ? [job[2]] : undefined;
          mj.startup.promise
            .then(function () { return mj.typesetPromise(nodes); })
            .catch(function (err) { console.warn("MathJax could not typeset a widget", err); });
        });
      },
    };
  }
  // MathJax 3 is a deferred script: it has replaced window.MathJax by DOMContentLoaded, and the
  // manager renders the widgets on the window's load event, after that.
  document.addEventListener("DOMContentLoaded", installHub);
  window.addEventListener("load", installHub);
})();
