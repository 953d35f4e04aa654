/* Chat page: the share cards our pages gave the JS-SDK stand-in, shown as the card the counselor
   forwards; "以学生身份打开" opens it on a student's phone (a fresh, cookie-less frame). */
(function () {
  "use strict";
  var log = document.getElementById("chat-log");
  var since = 0;

  function currentOpenid() {
    var m = document.cookie.match(/(?:^|;\s*)sim_openid=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function render(card) {
    var d = el("div", "msg share-card");
    d.dataset.seq = card.seq;
    d.appendChild(el("div", "share-note", "转发卡片（页面通过 JS-SDK 设置" + (card.signed ? "" : "，签名未通过") + "）"));
    var box = el("div", "share-box");
    if (card.imgUrl) { var img = el("img", "share-icon"); img.src = card.imgUrl; img.alt = ""; box.appendChild(img); }
    var text = el("div", "share-text");
    text.appendChild(el("div", "share-title", card.title));
    text.appendChild(el("div", "share-desc", card.desc));
    box.appendChild(text);
    d.appendChild(box);
    var open = el("button", "share-open", "以学生身份打开");
    open.type = "button";
    open.addEventListener("click", function () { window.open("/_sim/student?seq=" + card.seq, "_blank"); });
    d.appendChild(open);
    log.appendChild(d);
    log.scrollTop = log.scrollHeight;
  }

  function poll() {
    var me = currentOpenid();
    fetch("/_sim/shares?since=" + since).then(function (r) { return r.json(); }).then(function (cards) {
      cards.forEach(function (card) {
        since = Math.max(since, card.seq);
        if (card.kind === "app" && (!card.openid || card.openid === me)) render(card);
      });
    }).catch(function () { /* simulator restarting */ });
  }

  setInterval(poll, 1500);
  poll();
})();
