/* WeChat JS-SDK stand-in served by the fdy simulator ({{ sim }}). Only what fdy's pages use. */
(function () {
  "use strict";
  var SIM = {{ sim|tojson }};
  var cfg = null, verdict = null, readyFns = [], errorFns = [];
  function post(path, body) {
    return fetch(SIM + path, { method: "POST", credentials: "include", body: JSON.stringify(body) })
      .then(function (r) { return r.json(); });
  }
  function settle() {
    if (!verdict) return;
    var fns = verdict.ok ? readyFns : errorFns;
    readyFns = []; errorFns = [];
    fns.forEach(function (fn) { try { fn(verdict.ok ? undefined : { errMsg: verdict.errMsg }); } catch (e) { /* page's */ } });
  }
  function share(kind, data) {
    data = data || {};
    var card = { kind: kind, title: data.title, desc: data.desc || "", link: data.link, imgUrl: data.imgUrl,
                 page: location.href.split("#")[0], signed: !!(verdict && verdict.ok) };
    post("/_sim/share", card).then(function () { if (data.success) data.success(); },
                                   function () { if (data.fail) data.fail({ errMsg: kind + ":fail" }); });
  }
  window.wx = {
    config: function (c) {
      cfg = c || {};
      post("/_sim/jssdk/config", { appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
                                   signature: cfg.signature, url: location.href })
        .then(function (v) { verdict = v; settle(); },
              function () { verdict = { ok: false, errMsg: "config:network" }; settle(); });
    },
    ready: function (fn) { readyFns.push(fn); settle(); },
    error: function (fn) { errorFns.push(fn); settle(); },
    updateAppMessageShareData: function (data) { share("app", data); },
    updateTimelineShareData: function (data) { share("timeline", data); }
  };
})();
