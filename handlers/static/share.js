/* The counselor's task page: WeChat's own 转发 / 分享到朋友圈 send the student page, not this one.
   The share card (student link, title, one line, icon) is in #share's data attributes; the
   signature for this page's address comes from /jssdk/config. */
(function () {
  "use strict";
  var card = document.getElementById("share");
  if (!card || !window.wx) return;
  var share = { title: card.dataset.title, desc: card.dataset.desc, link: card.dataset.link, imgUrl: card.dataset.icon };
  var here = location.href.split("#")[0];
  fetch("/jssdk/config?url=" + encodeURIComponent(here), { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (cfg) {
      wx.config({ debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
                  signature: cfg.signature, jsApiList: ["updateAppMessageShareData", "updateTimelineShareData"] });
      wx.ready(function () {
        wx.updateAppMessageShareData(share);
        wx.updateTimelineShareData({ title: share.title, link: share.link, imgUrl: share.imgUrl });
      });
    })
    .catch(function () { /* the student link shown on the page still works */ });
})();
