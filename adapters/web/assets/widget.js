/*
 * botkit's web chat widget. One tag on any page:
 *
 *   <script src="https://bot.example.com/widget.js" data-bot="Support" defer></script>
 *
 * Optional: data-lang="en"|"zh" (else the browser's language), and for a signed-in user data-user-id plus
 * data-user-hash = hex HMAC-SHA256(web.identity_secret, user id), computed by the site's server.
 *
 * The server is wherever this script came from, so the page may be on another site. Everything the bot
 * or anyone else wrote is put on the page with textContent, never as HTML. The protocol is described in
 * botkit/adapters/web/protocol.py.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src || window.__botkitChat) return;
  window.__botkitChat = true;

  var TEXTS = {
    en: {
      open: "Open chat", close: "Close chat", title: "Chat with {bot}", log: "Conversation",
      input: "Type your message", send: "Send", typing: "{bot} is typing…", connecting: "Connecting…",
      reconnecting: "Connection lost. Reconnecting…", refused: "This chat cannot be opened here:",
      missed: "Some earlier messages are no longer available.", sending: "sending", file: "File",
      too_large: "That message is too long to send.", bad_json: "The message could not be read.",
      bad_frame: "The message could not be read.", button_gone: "That button is no longer available.",
      other: "The chat refused that:"
    },
    zh: {
      open: "打开聊天", close: "关闭聊天", title: "与 {bot} 聊天", log: "对话记录",
      input: "输入消息", send: "发送", typing: "{bot} 正在输入…", connecting: "正在连接…",
      reconnecting: "连接中断，正在重新连接…", refused: "无法在此页面打开聊天：",
      missed: "部分较早的消息已无法显示。", sending: "发送中", file: "文件",
      too_large: "消息太长，无法发送。", bad_json: "无法读取这条消息。",
      bad_frame: "无法读取这条消息。", button_gone: "这个按钮已失效。", other: "聊天服务拒绝了该操作："
    }
  };

  var data = script.dataset;
  var base = new URL(".", script.src);
  var socketUrl = new URL("ws", base);
  socketUrl.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  var wanted = (data.lang || navigator.language || "en").toLowerCase();
  var lang = wanted.indexOf("zh") === 0 ? "zh" : "en";
  var botName = data.bot || "botkit";
  var storeKey = "botkit-visitor:" + base.origin;
  function t(key) { return (TEXTS[lang][key] || TEXTS.en[key] || key).replace("{bot}", botName); }

  // -- the elements, in a shadow root so the page's styles and ours leave each other alone -------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function chatIcon() { // drawn, not an emoji: not every system has an emoji font
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "bubble-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }
  var host = el("div", { id: "botkit-chat", lang: lang });
  host.style.display = "none"; // until the stylesheet is in: no unstyled flash
  var root = host.attachShadow({ mode: "open" });
  var style = el("link", { rel: "stylesheet", href: new URL("widget.css", base).href });
  style.addEventListener("load", function () { host.style.display = ""; });
  var bubble = el("button", { type: "button", class: "bubble", "aria-label": t("open"),
    "aria-expanded": "false", "aria-controls": "botkit-panel" });
  bubble.appendChild(chatIcon());
  var panel = el("section", { id: "botkit-panel", class: "panel", role: "dialog", "aria-label": t("title") });
  panel.hidden = true;
  var header = el("header", { class: "header" });
  header.appendChild(el("h2", { class: "title" }, botName));
  var closer = el("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  header.appendChild(closer);
  var status = el("p", { class: "status", role: "status", "aria-live": "polite" });
  var transcript = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t("log"),
    tabindex: "0" });
  var typing = el("p", { class: "typing", "aria-live": "polite" });
  typing.hidden = true;
  var form = el("form", { class: "compose" });
  var input = el("textarea", { rows: "1", "aria-label": t("input"), placeholder: t("input") });
  var sendButton = el("button", { type: "submit", class: "send" }, t("send"));
  form.appendChild(input);
  form.appendChild(sendButton);
  [header, status, transcript, typing, form].forEach(function (n) { panel.appendChild(n); });
  [style, bubble, panel].forEach(function (n) { root.appendChild(n); });

  // -- the conversation -------------------------------------------------------------------------------
  var state = { socket: null, epoch: "", lastSeq: 0, retries: 0, refused: false, maxBytes: 8192 };
  var pending = new Map(); // client id -> {frame, node}: sent, not yet confirmed by the server
  var shown = new Map(); // message id -> its node
  var timer = null;

  function clientId() {
    var bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes);
    return "c" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function scrollDown() { transcript.scrollTop = transcript.scrollHeight; }

  function say(kind, text) { // a line in the status area; errors are announced at once
    status.textContent = text || "";
    status.className = "status" + (kind ? " " + kind : "");
    status.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  function messageNode(id, from) {
    var node = id ? shown.get(id) : null;
    if (node) return node;
    node = el("div", { class: "msg " + (from === "visitor" ? "from-visitor" : "from-bot") });
    node.appendChild(el("p", { class: "text" }, ""));
    transcript.appendChild(node);
    if (id) shown.set(id, node);
    return node;
  }

  function safeUrl(raw) {
    try {
      var url = new URL(raw, base);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  function addButtons(node, rows) {
    (rows || []).forEach(function (row) {
      var line = el("div", { class: "buttons" });
      row.forEach(function (b) {
        var href = b.url ? safeUrl(b.url) : null;
        if (href) {
          line.appendChild(el("a", { class: "choice", href: href, target: "_blank", rel: "noopener noreferrer" },
            b.label));
        } else if (b.token) {
          var button = el("button", { type: "button", class: "choice" }, b.label);
          button.addEventListener("click", function () { press(node, b.token); });
          line.appendChild(button);
        }
      });
      node.appendChild(line);
    });
  }

  function addFiles(node, files) {
    (files || []).forEach(function (f) {
      var href = safeUrl(f.url);
      if (!href) return;
      var link = el("a", { class: "file", href: href, target: "_blank", rel: "noopener noreferrer" });
      if (f.kind === "image") {
        link.appendChild(el("img", { src: href, alt: f.name }));
      } else {
        link.textContent = t("file") + ": " + f.name;
      }
      node.appendChild(link);
    });
  }

  function show(frame) {
    if (typeof frame.seq === "number") {
      if (frame.seq <= state.lastSeq) return; // seen before this reconnect
      state.lastSeq = frame.seq;
    }
    var node;
    switch (frame.type) {
      case "welcome":
        try { if (frame.visitor) localStorage.setItem(storeKey, frame.visitor); } catch (e) { /* private mode */ }
        if (frame.epoch !== state.epoch) state.lastSeq = 0; // a new life of the log: numbers start again
        state.epoch = frame.epoch;
        state.maxBytes = frame.max_frame_bytes || state.maxBytes;
        state.retries = 0;
        say(frame.missed ? "note" : "", frame.missed ? t("missed") : "");
        typing.textContent = t("typing");
        typing.hidden = !frame.typing;
        pending.forEach(function (p) { transmit(p.frame); }); // the server drops what it already has
        break;
      case "message":
        if (frame.from === "visitor" && pending.has(frame.client_id)) {
          node = pending.get(frame.client_id).node;
          pending.delete(frame.client_id);
          node.classList.remove("pending");
          shown.set(frame.id, node);
          break;
        }
        node = messageNode(frame.id, frame.from);
        node.firstChild.textContent = frame.text;
        addButtons(node, frame.buttons);
        addFiles(node, frame.files);
        if (frame.from !== "visitor") typing.hidden = true;
        break;
      case "start":
        typing.hidden = true;
        messageNode(frame.id, "bot").setAttribute("aria-busy", "true");
        break;
      case "delta":
        node = messageNode(frame.id, "bot");
        node.firstChild.textContent += frame.text;
        break;
      case "end":
        node = messageNode(frame.id, "bot");
        node.firstChild.textContent = frame.text;
        node.removeAttribute("aria-busy");
        addButtons(node, frame.buttons);
        break;
      case "typing":
        typing.textContent = t("typing");
        typing.hidden = !frame.on;
        break;
      case "ack": // a button press taken in, or a resent message the server already had
        if (pending.has(frame.client_id)) {
          if (pending.get(frame.client_id).frame.type === "message") {
            pending.get(frame.client_id).node.classList.remove("pending");
          }
          pending.delete(frame.client_id);
        }
        break;
      case "error":
        say("error", TEXTS[lang][frame.code] || t("other") + " " + frame.message);
        break;
    }
    scrollDown();
  }

  function transmit(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
  }

  function connect() {
    if (state.socket || state.refused) return;
    say("", state.retries ? t("reconnecting") : t("connecting"));
    var socket = new WebSocket(socketUrl.href);
    state.socket = socket;
    socket.addEventListener("open", function () {
      var hello = { type: "hello", last_seq: state.lastSeq, epoch: state.epoch, lang: lang };
      try { hello.visitor = localStorage.getItem(storeKey) || ""; } catch (e) { hello.visitor = ""; }
      if (data.userId !== undefined) hello.user_id = data.userId;
      if (data.userHash !== undefined) hello.user_hash = data.userHash;
      socket.send(JSON.stringify(hello));
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame === "object") show(frame);
    });
    socket.addEventListener("close", function (event) {
      state.socket = null;
      typing.hidden = true;
      if (event.code === 1008) { // refused: the origin or the identity; trying again cannot help
        state.refused = true;
        input.disabled = true;
        sendButton.disabled = true;
        say("error", t("refused") + " " + (event.reason || ""));
        return;
      }
      state.retries += 1;
      say("", t("reconnecting"));
      var delay = Math.min(10000, 500 * Math.pow(2, Math.min(state.retries - 1, 5)));
      clearTimeout(timer);
      timer = setTimeout(connect, delay * (0.75 + Math.random() / 2));
    });
  }

  function send(text) {
    var frame = { type: "message", client_id: clientId(), text: text };
    if (new TextEncoder().encode(JSON.stringify(frame)).length > state.maxBytes) {
      say("error", t("too_large"));
      return false;
    }
    var node = messageNode(null, "visitor");
    node.classList.add("pending");
    node.firstChild.textContent = text;
    pending.set(frame.client_id, { frame: frame, node: node });
    say("", "");
    transmit(frame);
    scrollDown();
    return true;
  }

  function press(node, token) {
    node.querySelectorAll("button.choice").forEach(function (b) { b.disabled = true; });
    var frame = { type: "button", client_id: clientId(), token: token };
    pending.set(frame.client_id, { frame: frame, node: node });
    transmit(frame);
  }

  // -- opening, closing, typing -----------------------------------------------------------------------
  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    host.classList.add("open");
    connect();
    input.focus();
  }
  function close() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    host.classList.remove("open");
    bubble.focus();
  }
  bubble.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  closer.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { // IME composition keeps its Enter
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (text && !state.refused && send(text)) input.value = "";
    input.focus();
  });

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
