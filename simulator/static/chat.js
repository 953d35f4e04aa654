/* WeChat simulator chat page: plain JS, no dependencies. */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var userSelect = $("user-select"), newUserBtn = $("new-user"), followBtn = $("follow-toggle");
  var encBox = $("encrypted"), log = $("chat-log"), input = $("message-input");
  var form = $("send-form"), menuEl = $("menu"), smsLog = $("sms-log"), userInfo = $("user-info");

  var users = [];
  var current = null;          // openid
  var lastSeq = 0;
  var seen = {};
  var smsSeq = 0;
  var menuJson = null;
  var polling = false;

  function api(method, url, body) {
    var opts = { method: method, headers: {} };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var e = new Error((data && data.error) || ("HTTP " + r.status));
          e.data = data;
          throw e;
        }
        return data;
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function setCookie(openid) {
    document.cookie = "sim_openid=" + encodeURIComponent(openid || "") + "; path=/; SameSite=Lax" +
      (openid ? "" : "; max-age=0");
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function localError(text) {
    log.appendChild(el("div", "msg error", text));
    scrollDown();
  }

  // ------------------------------------------------------------------ users
  function currentUser() {
    for (var i = 0; i < users.length; i++) if (users[i].openid === current) return users[i];
    return null;
  }

  var usersJson = null;
  function renderUsers() {
    var j = JSON.stringify(users) + "|" + current;
    if (j === usersJson) return;
    usersJson = j;
    var keep = current;
    userSelect.innerHTML = "";
    if (!users.length) {
      var o = el("option", null, "（暂无用户，点“新用户”）");
      o.value = "";
      userSelect.appendChild(o);
    }
    users.forEach(function (u) {
      var o = el("option", null, u.nickname + (u.subscribe ? "" : "（未关注）") + " · " + u.openid.slice(0, 10) + "…");
      o.value = u.openid;
      userSelect.appendChild(o);
    });
    if (keep && currentUser()) userSelect.value = keep;
    renderUserInfo();
  }

  function renderUserInfo() {
    var u = currentUser();
    followBtn.disabled = !u;
    if (!u) {
      userInfo.textContent = "尚未选择用户";
      followBtn.textContent = "关注";
      return;
    }
    followBtn.textContent = u.subscribe ? "取消关注" : "关注";
    followBtn.dataset.subscribed = u.subscribe ? "1" : "0";
    userInfo.textContent = "openid: " + u.openid + " · " + (u.subscribe ? "已关注" : "未关注") +
      (u.tagid_list && u.tagid_list.length ? " · 标签 " + u.tagid_list.join(",") : "");
  }

  function loadUsers() {
    return api("GET", "/_sim/users").then(function (list) {
      users = list;
      if (current && !currentUser()) selectUser(null);
      if (!current) {
        var saved = null;
        try { saved = localStorage.getItem("sim_openid"); } catch (e) { /* private mode */ }
        var pick = null;
        users.forEach(function (u) { if (u.openid === saved) pick = saved; });
        if (!pick && users.length) pick = users[0].openid;
        if (pick) { renderUsers(); selectUser(pick); return; }
      }
      renderUsers();
    });
  }

  function selectUser(openid) {
    current = openid || null;
    setCookie(current);
    try { if (current) localStorage.setItem("sim_openid", current); } catch (e) { /* ignore */ }
    log.innerHTML = "";
    lastSeq = 0;
    seen = {};
    menuJson = null;
    if (current) userSelect.value = current;
    renderUserInfo();
    renderMenu(null);
    if (current) { pollInbox(); loadMenu(); }
  }

  userSelect.addEventListener("change", function () { selectUser(userSelect.value); });

  newUserBtn.addEventListener("click", function () {
    newUserBtn.disabled = true;
    api("POST", "/_sim/users", { subscribe: true }).then(function (u) {
      users.push(u);
      renderUsers();
      selectUser(u.openid);
      return sendToApp({ event: "subscribe" });
    }).catch(function (e) { localError("创建用户失败：" + e.message); })
      .then(function () { newUserBtn.disabled = false; loadUsers(); });
  });

  followBtn.addEventListener("click", function () {
    var u = currentUser();
    if (!u) return;
    followBtn.disabled = true;
    sendToApp({ event: u.subscribe ? "unsubscribe" : "subscribe" }).then(function () {
      followBtn.disabled = false;
      return loadUsers();
    });
  });

  // ------------------------------------------------------------------ send
  function sendToApp(payload) {
    if (!current) { localError("请先选择或新建一个用户"); return Promise.resolve(null); }
    payload.openid = current;
    payload.encrypted = !!(encBox && encBox.checked && !encBox.disabled);
    var who = current;
    setTimeout(function () { if (who === current) pollInbox(); }, 150);
    return api("POST", "/_sim/send", payload).then(function (res) {
      if (who === current) pollInbox();
      loadMenu();
      return res;
    }).catch(function (e) {
      if (who === current) localError("发送失败：" + e.message);
      return null;
    });
  }

  function submitInput() {
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    fitInput();
    sendToApp({ text: text });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); submitInput(); });

  // As WeChat on a computer: Enter sends, Shift+Enter starts a new line (a 派发 form has many).
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submitInput();
    }
  });
  function fitInput() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  }
  input.addEventListener("input", fitInput);

  // ------------------------------------------------------------------ pages
  // A link opens as in WeChat's own browser: one phone-sized window (pages refuse to be framed).
  var PHONE_WINDOW = "popup,width=390,height=760";
  function openPage(url) {
    setCookie(current);
    var w = window.open(url, "wechat-page", PHONE_WINDOW);
    if (w) w.focus();
  }

  var URL_RE = /https?:\/\/[^\s，。；！？、）」》"'<>]+/g;
  function linkified(text) {
    var frag = document.createDocumentFragment(), last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      frag.appendChild(pageLink(m[0], m[0], "link"));
      last = m.index + m[0].length;
    }
    frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }
  function pageLink(url, label, cls) {
    var a = el("a", cls, label);
    a.href = url;
    a.addEventListener("click", function (ev) { ev.preventDefault(); openPage(url); });
    return a;
  }

  // ------------------------------------------------------------------ messages
  function eventLabel(m) {
    switch (m.event) {
      case "subscribe": return "[关注公众号]";
      case "unsubscribe": return "[取消关注]";
      case "CLICK": return m.label ? "☰ " + m.label : "[点击菜单] " + (m.event_key || "");
      case "VIEW": return m.label ? "☰ " + m.label : "[打开链接] " + (m.event_key || "");
      default: return "[" + m.event + "]";
    }
  }

  function templateTitle(m) {
    if (m.template_title) return m.template_title;
    if (m.data && m.data.first && m.data.first.value) return m.data.first.value;
    return "模板消息";
  }

  // The template's own field names (kept by the simulator like WeChat keeps "我的模板"), else raw keys.
  function templateFields(m) {
    var data = m.data || {};
    var value = function (k) {
      var v = data[k] && typeof data[k] === "object" ? data[k].value : data[k];
      return v === undefined || v === null ? "" : String(v);
    };
    if (m.template_fields && m.template_fields.length) {
      return m.template_fields.map(function (f) { return [f[0], value(f[1])]; });
    }
    return Object.keys(data).filter(function (k) { return k !== "first" && k !== "remark"; })
      .map(function (k) { return [k, value(k)]; });
  }

  function renderMessage(m) {
    var d;
    if (m.kind === "out") {
      if (m.event) d = el("div", "msg out event" + (m.label ? " menu-click" : ""), eventLabel(m));
      else d = el("div", "msg out", m.text);
      if (m.encrypted) d.title = "安全模式发送";
    } else if (m.kind === "reply") {
      d = el("div", "msg reply");
      d.dataset.replyType = m.reply_type || "";
      if (m.reply_type === "text") d.appendChild(linkified(m.content || ""));
      else if (m.articles && m.articles.length) {
        var box = el("div", "articles");
        m.articles.forEach(function (a) {
          var link = el("a", null, a.title || a.url || "图文");
          if (a.url) { link.href = a.url; link.target = "_blank"; link.rel = "noopener"; }
          box.appendChild(link);
          if (a.description) box.appendChild(el("div", "desc", a.description));
        });
        d.appendChild(box);
      } else d.textContent = "[" + (m.reply_type || "回复") + "]" + (m.content ? " " + m.content : "");
    } else if (m.kind === "template") {
      d = el("div", "msg template");
      d.dataset.msgid = m.msgid;
      var data = m.data || {};
      d.appendChild(el("div", "tpl-title", templateTitle(m)));
      templateFields(m).forEach(function (pair) {
        var f = el("div", "tpl-field");
        f.appendChild(el("b", null, pair[0] + "："));
        f.appendChild(document.createTextNode(pair[1]));
        d.appendChild(f);
      });
      if (data.remark && data.remark.value) d.appendChild(el("div", "tpl-remark", data.remark.value));
      if (m.url) d.appendChild(pageLink(m.url, "详情 ›", "tpl-link"));
      if (m.receipt && m.receipt !== "success") d.appendChild(el("div", "tpl-note", "回执：" + m.receipt));
    } else if (m.kind === "custom") {
      d = el("div", "msg custom", m.content);
    } else if (m.kind === "error") {
      d = el("div", "msg error", m.text);
    } else {
      d = el("div", "msg", JSON.stringify(m));
    }
    d.dataset.seq = m.seq;
    log.appendChild(d);
  }

  function pollInbox() {
    if (!current) return Promise.resolve();
    var who = current;
    return api("GET", "/_sim/inbox/" + encodeURIComponent(who) + "?all=1&since=" + lastSeq).then(function (list) {
      if (who !== current) return;
      var added = false;
      list.forEach(function (m) {
        if (seen[m.seq]) return;
        seen[m.seq] = true;
        if (m.seq > lastSeq) lastSeq = m.seq;
        renderMessage(m);
        added = true;
      });
      if (added) scrollDown();
    }).catch(function () { /* simulator restarting */ });
  }

  // ------------------------------------------------------------------ menu
  function closePopups() {
    var ps = menuEl.querySelectorAll(".menu-popup");
    for (var i = 0; i < ps.length; i++) ps[i].hidden = true;
  }

  function leafButton(b, cls) {
    var btn = el("button", cls, b.name);
    btn.type = "button";
    btn.dataset.type = b.type || "";
    if (b.key) btn.dataset.key = b.key;
    if (b.url) btn.dataset.url = b.url;
    btn.addEventListener("click", function (ev) {
      ev.stopPropagation();
      closePopups();
      if (b.type === "view") {
        openPage(b.url);
        sendToApp({ event: "VIEW", event_key: b.url });
      } else {
        sendToApp({ event: "CLICK", event_key: b.key || "" });
      }
    });
    return btn;
  }

  function renderMenu(menu) {
    menuEl.innerHTML = "";
    if (!menu || !menu.button || !menu.button.length) {
      menuEl.appendChild(el("span", "menu-empty", "（尚未发布菜单）"));
      return;
    }
    if (menu.conditional) menuEl.dataset.menuid = menu.menuid; else delete menuEl.dataset.menuid;
    menu.button.forEach(function (b) {
      var top = el("div", "menu-top");
      if (b.sub_button && b.sub_button.length) {
        var tb = el("button", "menu-parent", "≡ " + b.name);
        tb.type = "button";
        var pop = el("div", "menu-popup");
        pop.hidden = true;
        b.sub_button.forEach(function (sb) { pop.appendChild(leafButton(sb, "menu-sub")); });
        tb.addEventListener("click", function (ev) {
          ev.stopPropagation();
          var was = pop.hidden;
          closePopups();
          pop.hidden = !was;
        });
        top.appendChild(tb);
        top.appendChild(pop);
      } else {
        top.appendChild(leafButton(b, "menu-leaf"));
      }
      menuEl.appendChild(top);
    });
  }

  document.addEventListener("click", closePopups);

  function loadMenu() {
    if (!current) return Promise.resolve();
    var who = current;
    return api("GET", "/_sim/menu/" + encodeURIComponent(who)).then(function (res) {
      if (who !== current) return;
      var j = JSON.stringify(res.menu);
      if (j === menuJson) return;
      menuJson = j;
      renderMenu(res.menu);
    }).catch(function () { /* ignore */ });
  }

  // ------------------------------------------------------------------ sms
  function pollSms() {
    return api("GET", "/_sim/sms?since=" + smsSeq).then(function (list) {
      if (!list.length) return;
      var empty = smsLog.querySelector(".sms-empty");
      if (empty) empty.remove();
      list.forEach(function (s) {
        if (s.seq <= smsSeq) return;
        smsSeq = s.seq;
        var d = el("div", "sms");
        d.dataset.seq = s.seq;
        d.appendChild(el("span", "sms-phone", s.phone));
        d.appendChild(el("span", "sms-content", s.content));
        d.appendChild(el("span", "sms-time", new Date(s.time * 1000).toLocaleTimeString()));
        smsLog.appendChild(d);
      });
      smsLog.scrollTop = smsLog.scrollHeight;
    }).catch(function () { /* ignore */ });
  }

  // ------------------------------------------------------------------ loop
  var ticks = 0;
  function tick() {
    if (polling) return;
    polling = true;
    ticks++;
    var jobs = [pollInbox(), pollSms()];
    if (ticks % 2 === 0) jobs.push(loadMenu());
    if (ticks % 3 === 0) jobs.push(loadUsers());
    Promise.all(jobs).then(function () { polling = false; }, function () { polling = false; });
  }

  loadUsers().then(function () { pollSms(); });
  setInterval(tick, 1200);
})();
